// citytwin's web map: H3 hexagons and sensors of the feeds, simulation layers and scenarios.
// Everything it shows comes from the public API of the same origin; no CDN, no remote basemap.

import { $, api, getJSON } from "./http.js";
import { HOUR, localTime, utcTime } from "./clock.js";
import { drawChart } from "./chart.js";
import { drawLegend, fillColour, quantileStops } from "./legend.js";
import { addBasemap, baseStyle, boundaryBounds } from "./basemap.js";
import { loadRuns, refreshLayer } from "./layers.js";
import { addHealthLayer } from "./health.js";
import { wireScenarioForm } from "./scenario.js";

const state = { variables: [], hours: [], runs: [], drawing: null, polygon: null, zone: "UTC" };

// ---- the URL hash: view, variable, time, layer and comparison are shareable ----------------
function readHash() {
  return Object.fromEntries(new URLSearchParams(window.location.hash.slice(1)));
}

function writeHash(map) {
  const c = map.getCenter();
  const params = new URLSearchParams({
    map: `${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`,
    variable: $("variable").value,
    time: currentHour().toISOString().slice(0, 13) + ":00Z",
  });
  if ($("run").value) params.set("run", $("run").value);
  if ($("layer").value) params.set("layer", $("layer").value);
  if (state.view) params.set("view", state.view);
  history.replaceState(null, "", `#${params}`);
}

// ---- sensors: hexagons per hour, sensor points, legend ------------------------------------
const currentHour = () => state.hours[Number($("time").value)] || new Date(0);
const unitOf = (variable) => state.variables.find((v) => v.name === variable)?.unit || "";

// The cell tiles are reached through their TileJSON, as any portal would: it carries the
// variable and hour into the tile URL template.
function cellTileJSON() {
  const start = currentHour();
  const end = new Date(start.getTime() + HOUR);
  const query = new URLSearchParams({
    variable: $("variable").value,
    start: start.toISOString(),
    end: end.toISOString(),
  });
  return api(`/tiles/cells/tilejson.json?${query}`);
}

// Whether a hexagon's (lon/lat) geometry reaches into the view's bounds.
function inView(geometry, view) {
  const rings = geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat();
  const points = rings.flat();
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  return (
    Math.min(...lons) <= view.getEast() &&
    Math.max(...lons) >= view.getWest() &&
    Math.min(...lats) <= view.getNorth() &&
    Math.max(...lats) >= view.getSouth()
  );
}

// The means of the hexagons in view, at the finest resolution loaded (the zoom's own): the
// scale follows what the reader looks at, so a pan to a quieter district spreads its colours.
function drawnMeans(map) {
  const view = map.getBounds();
  const means = new Map();
  let finest = -1;
  for (const feature of map.querySourceFeatures("cells", { sourceLayer: "cells" })) {
    const { h3, mean } = feature.properties;
    if (typeof mean !== "number" || !inView(feature.geometry, view)) continue;
    const resolution = parseInt(h3[1], 16); // an H3 index's second hex digit is its resolution
    if (resolution > finest) {
      finest = resolution;
      means.clear();
    }
    if (resolution === finest) means.set(h3, mean);
  }
  return { resolution: finest, means };
}

// One colour scale per variable, hour, resolution and set of hexagons in view, from their
// means: the scale of a week-long mean saturated every hexagon at rush hour, and one of the
// whole city washes out the district in view. True when the scale changed.
function rescaleCells(map) {
  const { resolution, means } = drawnMeans(map);
  const variable = $("variable").value;
  const cells = [...means.keys()].sort().join();
  const key = `${variable}|${currentHour().toISOString()}|${resolution}|${cells}`;
  if (key === state.scaleKey) return false;
  state.scaleKey = key;
  const stops = quantileStops([...means.values()]);
  map.setPaintProperty("cells-fill", "fill-color", fillColour(stops));
  const when = localTime(currentHour(), state.zone);
  drawLegend($("cells-legend"), {
    stops,
    unit: unitOf(variable),
    caption: means.size
      ? `${variable}, ${when}: percentiles 2, 25, 50, 75, 98 of the ${means.size} hexagons in view (resolution ${resolution})`
      : `${variable}, ${when}: no hexagon with data in view`,
  });
  return true;
}

function setHours(variable) {
  const span = state.variables.find((v) => v.name === variable);
  state.hours = [];
  if (span && span.first_day) {
    const first = new Date(span.first_day).getTime();
    const last = new Date(span.last_day).getTime() + 24 * HOUR;
    for (let t = first; t < last; t += HOUR) state.hours.push(new Date(t));
  }
  $("time").max = String(Math.max(state.hours.length - 1, 0));
}

function showHour(map) {
  const hour = currentHour();
  $("time-label").value = `${localTime(hour, state.zone)} ${state.zone}`;
  $("time-label").title = utcTime(hour);
  map.getSource("cells").setUrl(cellTileJSON());
  if (state.series) drawCellChart();
  refreshLayer(map, state, hour);
  writeHash(map);
}

function addSensorLayers(map) {
  map.addSource("cells", { type: "vector", url: cellTileJSON() });
  map.addLayer({
    id: "cells-fill",
    type: "fill",
    source: "cells",
    "source-layer": "cells",
    paint: { "fill-color": "#cccccc", "fill-opacity": 0.75, "fill-outline-color": "#ffffff" },
  });
  map.addSource("sensors", { type: "vector", url: api("/tiles/sensors/tilejson.json") });
  map.addLayer({
    id: "sensors",
    type: "circle",
    source: "sensors",
    "source-layer": "sensors",
    paint: { "circle-radius": 4, "circle-color": "#1f78b4", "circle-stroke-color": "#fff", "circle-stroke-width": 1 },
  });
}

// ---- the panel: a cell's series or a sensor's latest values ---------------------------------
function openPanel(title, stats, links) {
  $("panel").hidden = false;
  $("panel-title").textContent = title;
  $("panel-stats").replaceChildren();
  for (const [key, value] of Object.entries(stats)) {
    const term = document.createElement("dt");
    term.textContent = key;
    const detail = document.createElement("dd");
    detail.dataset.stat = key;
    detail.textContent = value;
    $("panel-stats").append(term, detail);
  }
  $("panel-links").innerHTML = links.map(([text, href]) => `<a href="${href}" target="_blank">${text}</a>`).join(" · ");
}

function drawCellChart() {
  const { series, variable } = state.series;
  drawChart($("chart"), series, { selected: currentHour(), unit: unitOf(variable), zone: state.zone });
}

async function openCell(props) {
  const variable = $("variable").value;
  const unit = unitOf(variable);
  const hours = state.hours;
  const query = new URLSearchParams({
    variable,
    bucket: "1h",
    start: hours[0].toISOString(),
    end: new Date(hours[hours.length - 1].getTime() + HOUR).toISOString(),
  });
  const value = (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(2)} ${unit}`);
  openPanel(
    `Cell ${props.h3}`,
    { variable, hour: `${localTime(currentHour(), state.zone)} ${state.zone}`, count: props.count, mean: value(props.mean), min: value(props.min), max: value(props.max) },
    [
      ["series JSON", `/cells/${props.h3}/series?${query}`],
      ["CSV", `/cells/${props.h3}/series?${query}&format=csv`],
      ["GeoJSON", `/cells?variable=${variable}&cells=${props.h3}&start=${query.get("start")}&end=${query.get("end")}`],
    ],
  );
  $("panel-stats").querySelector("[data-stat=hour]").title = utcTime(currentHour());
  const series = await getJSON(`/cells/${props.h3}/series?${query}`);
  state.series = { series: series.series, variable };
  drawCellChart();
  $("panel").dataset.cell = props.h3;
}

function openSensor(props) {
  const stats = { feed: props.feed, id: props.external_id };
  for (const [key, value] of Object.entries(props)) {
    if (key.endsWith("_time")) {
      const variable = key.slice(0, -5);
      const hours = (Date.now() - new Date(value).getTime()) / HOUR;
      const age = hours < 48 ? `${hours.toFixed(0)} h ago` : `${(hours / 24).toFixed(0)} days ago`;
      const unit = unitOf(variable);
      stats[variable] = `${Number(props[variable]).toFixed(1)} ${unit} (${localTime(new Date(value), state.zone)}, ${age})`;
    }
  }
  openPanel(props.name || props.external_id, stats, [["sensor", `/sensors/${props.id}`]]);
  state.series = null;
  $("chart").innerHTML = "";
}

// ---- start-up -----------------------------------------------------------------------------------
function wireControls(map) {
  const refresh = () => refreshLayer(map, state, currentHour()).then(() => writeHash(map));
  $("variable").onchange = () => {
    setHours($("variable").value);
    showHour(map);
  };
  $("time").oninput = () => showHour(map);
  $("play").onclick = () => {
    if (state.timer) {
      clearInterval(state.timer);
      state.timer = null;
      $("play").textContent = "▶ Play";
      return;
    }
    $("play").textContent = "❚❚ Pause";
    state.timer = setInterval(() => {
      $("time").value = String((Number($("time").value) + 1) % state.hours.length);
      showHour(map);
    }, 1000);
  };
  $("show-sensors").onchange = (e) => map.setLayoutProperty("sensors", "visibility", e.target.checked ? "visible" : "none");
  $("opacity").oninput = () => map.getLayer("layer") && map.setPaintProperty("layer", "raster-opacity", Number($("opacity").value));
  $("run").onchange = () => {
    if ($("run").value) $("layer").value = "";
    refresh();
  };
  $("layer").onchange = () => {
    if ($("layer").value) $("run").value = "";
    refresh();
  };
  $("layer-variable").onchange = refresh;
  for (const button of $("compare").querySelectorAll("button")) {
    button.onclick = () => {
      state.view = button.dataset.view;
      for (const other of $("compare").querySelectorAll("button")) other.classList.toggle("active", other === button);
      refresh();
    };
  }
  map.on("moveend", () => writeHash(map));
  map.on("click", "cells-fill", (event) => {
    if (state.drawing) return;
    const sensor = map.queryRenderedFeatures(event.point, { layers: ["sensors"] })[0];
    if (sensor) openSensor(sensor.properties);
    else openCell(event.features[0].properties);
  });
  map.on("mouseenter", "cells-fill", () => (map.getCanvas().style.cursor = "pointer"));
  map.on("mouseleave", "cells-fill", () => (map.getCanvas().style.cursor = ""));
  $("panel-close").onclick = () => {
    $("panel").hidden = true;
    state.series = null;
  };
}

async function main() {
  const hash = readHash();
  const city = await getJSON("/city");
  state.city = city;
  state.zone = city.properties.timezone;
  const map = new maplibregl.Map({ container: "map", style: baseStyle(), bounds: boundaryBounds(city), hash: false, attributionControl: false });
  if (hash.map) {
    const [zoom, lat, lon] = hash.map.split("/").map(Number);
    map.jumpTo({ center: [lon, lat], zoom });
  }
  map.addControl(new maplibregl.NavigationControl());
  map.addControl(new maplibregl.ScaleControl());
  map.addControl(new maplibregl.AttributionControl({ compact: false }));
  window.citytwin = { map, state };
  await new Promise((resolve) => map.on("load", resolve));

  state.variables = (await getJSON("/variables")).variables;
  const withData = state.variables.filter((v) => v.first_day);
  $("variable").innerHTML = withData.map((v) => `<option value="${v.name}">${v.feed}: ${v.name} (${v.unit})</option>`).join("");
  $("variable").value = hash.variable && withData.some((v) => v.name === hash.variable) ? hash.variable : withData.some((v) => v.name === "no2") ? "no2" : withData[0]?.name || "";
  setHours($("variable").value);
  const wanted = hash.time ? state.hours.findIndex((h) => h.toISOString().slice(0, 13) === hash.time.slice(0, 13)) : -1;
  $("time").value = String(wanted >= 0 ? wanted : Math.min(8, state.hours.length - 1));

  await addBasemap(map, city);
  addSensorLayers(map);
  addHealthLayer(map);
  wireScenarioForm(map, state, async (run) => {
    await loadRuns(state);
    $("run").value = run.id;
    state.view = "diff";
    await refreshLayer(map, state, currentHour());
    writeHash(map);
  });
  await loadRuns(state);
  if (hash.run) $("run").value = hash.run;
  if (hash.layer) $("layer").value = hash.layer;
  state.view = hash.view || (hash.run ? "diff" : "layer");
  wireControls(map);
  // Each time the map settles (after a pan or zoom too): a new hour, variable, resolution or set
  // of hexagons in view gets its own scale; the page is ready once the scale of what it shows
  // is drawn.
  map.on("idle", () => {
    // A new scale may paint nothing new (same stops): ask for a frame, so the next idle comes.
    if (rescaleCells(map)) map.triggerRepaint();
    else if (!document.body.dataset.ready) document.body.dataset.ready = "true";
  });
  showHour(map);
  // MapLibre fires idle only from a frame drawn once everything is loaded, and in headless
  // Chromium the last tile loaded sometimes brought no such frame, so the page never became
  // ready: until it is, ask for a frame twice a second.
  const nudge = setInterval(() => {
    if (document.body.dataset.ready) clearInterval(nudge);
    else map.triggerRepaint();
  }, 500);
}

main().catch((error) => {
  console.error(error);
  document.body.dataset.ready = "error";
});
