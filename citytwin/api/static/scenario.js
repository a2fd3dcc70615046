// The scenario form: draw a polygon on the map, choose an intervention, run it, follow it.

import { $, getJSON } from "./http.js";
import { HOUR } from "./clock.js";

function drawDraft(map, drawing) {
  const coordinates = drawing || [];
  const ring = coordinates.length > 2 ? [...coordinates, coordinates[0]] : coordinates;
  map.getSource("draft").setData({
    type: "FeatureCollection",
    features: ring.length > 1 ? [{ type: "Feature", geometry: { type: "LineString", coordinates: ring }, properties: {} }] : [],
  });
}

function effectOf(type, size) {
  const fields = { traffic_volume: "factor", fleet_mix: "ev_share", speed_limit: "kmh" };
  const effect = { type };
  if (type in fields) effect[fields[type]] = size;
  else if (type !== "road_closure") effect.share = size;
  return effect;
}

async function runScenario(state, onDone) {
  const type = $("effect").value;
  const span = state.variables.find((v) => v.name === "vehicle_count") || state.variables.find((v) => v.first_day);
  const start = new Date(span.first_day);
  const end = new Date(Math.min(new Date(span.last_day).getTime() + 24 * HOUR, start.getTime() + 31 * 24 * HOUR));
  const traffic = ["traffic_volume", "road_closure", "fleet_mix", "speed_limit"].includes(type);
  const scenario = {
    name: $("scenario-name").value || "My scenario",
    baseline: { start: start.toISOString(), end: end.toISOString(), variables: traffic ? ["no2", "pm25", "pm10"] : ["energy_demand", "peak_load"] },
    interventions: [{ geometry: { type: "Polygon", coordinates: [[...state.polygon, state.polygon[0]]] }, effect: effectOf(type, Number($("effect-size").value)) }],
  };
  const status = $("scenario-status");
  const bar = $("scenario-progress");
  try {
    let run = await getJSON("/scenarios", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": $("api-key").value },
      body: JSON.stringify(scenario),
    });
    bar.hidden = false;
    while (run.status === "queued" || run.status === "running") {
      bar.value = run.progress;
      status.textContent = `${run.stage || run.status} (${run.progress.toFixed(0)} %)`;
      await new Promise((resolve) => setTimeout(resolve, 500));
      run = await getJSON(`/scenarios/${run.id}`);
    }
    bar.value = run.progress;
    status.textContent = run.status === "succeeded" ? `done: ${run.name}` : `${run.status}: ${run.error}`;
    document.body.dataset.scenario = run.status;
    if (run.status === "succeeded") await onDone(run);
  } catch (error) {
    status.textContent = `error: ${error.message}`;
    document.body.dataset.scenario = "error";
  }
}

/** Wire the form's buttons and the map's clicks; `onDone(run)` shows a finished run. */
export function wireScenarioForm(map, state, onDone) {
  map.addSource("draft", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "draft", type: "line", source: "draft", paint: { "line-color": "#e31a1c", "line-width": 2 } });
  $("draw").onclick = () => {
    if (state.drawing) {
      state.polygon = state.drawing.length > 2 ? state.drawing : null;
      state.drawing = null;
      $("draw").textContent = "Draw a polygon";
      $("run-scenario").disabled = !state.polygon;
    } else {
      state.drawing = [];
      $("draw").textContent = "Finish polygon";
      drawDraft(map, state.drawing);
    }
  };
  map.on("click", (event) => {
    if (!state.drawing) return;
    state.drawing.push([event.lngLat.lng, event.lngLat.lat]);
    drawDraft(map, state.drawing);
  });
  $("run-scenario").onclick = () => runScenario(state, onDone);
}
