// citytwin's web map: H3 hexagons and sensors of the feeds, simulation layers and scenarios.
// Everything it shows comes from the public API of the same origin; no CDN, no basemap tiles.

const $ = (id) => document.getElementById(id);
// Not `new URL`: it would escape the braces of tile URL templates.
const api = (path) => window.location.origin + path;
const HOUR = 3600 * 1000;
const RAMP = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
const state = { variables: [], hours: [], runs: [], layerMeta: null, drawing: null, polygon: null };

async function getJSON(path, options) {
  const answer = await fetch(api(path), options);
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.parameter ? `${body.parameter}: ${body.detail}` : body.detail);
  return body;
}

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

async function colourScale(variable) {
  const span = state.variables.find((v) => v.name === variable);
  const query = new URLSearchParams({ variable, resolution: "7" });
  if (span && span.first_day) {
    query.set("start", span.first_day);
    query.set("end", new Date(new Date(span.last_day).getTime() + 24 * HOUR).toISOString());
  }
  const cells = await getJSON(`/cells?${query}`);
  const means = cells.features.map((f) => f.properties.mean).filter((m) => m !== null);
  const low = means.length ? Math.min(...means) : 0;
  const high = means.length ? Math.max(...means) : 1;
  return { low, high: high > low ? high : low + 1, unit: span ? span.unit : "" };
}

function fillColour(scale) {
  const stops = RAMP.flatMap((colour, i) => [scale.low + ((scale.high - scale.low) * i) / (RAMP.length - 1), colour]);
  return ["interpolate", ["linear"], ["get", "mean"], ...stops];
}

function drawLegend(scale) {
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  $("cells-legend").innerHTML =
    `<span>${fmt(scale.low)}</span><span class="bar" style="background:linear-gradient(to right,${RAMP.join(",")})"></span>` +
    `<span>${fmt(scale.high)} ${scale.unit}</span>`;
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
  $("time-label").value = currentHour().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  map.getSource("cells").setUrl(cellTileJSON());
  refreshLayer(map);
  writeHash(map);
}

async function showVariable(map) {
  const scale = await colourScale($("variable").value);
  map.setPaintProperty("cells-fill", "fill-color", fillColour(scale));
  drawLegend(scale);
  showHour(map);
}

function addSensorLayers(map) {
  map.addSource("cells", { type: "vector", url: cellTileJSON() });
  map.addLayer({
    id: "cells-fill",
    type: "fill",
    source: "cells",
    "source-layer": "cells",
    paint: { "fill-color": "#ccc", "fill-opacity": 0.75, "fill-outline-color": "#ffffff" },
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
function drawChart(series) {
  const svg = $("chart");
  const w = 320, h = 160, pad = 28;
  const points = series.filter((s) => s.mean !== null);
  if (!points.length) {
    svg.innerHTML = '<text x="10" y="20">no readings</text>';
    return;
  }
  const times = points.map((s) => new Date(s.bucket_start).getTime());
  const values = points.map((s) => s.mean);
  const [t0, t1] = [Math.min(...times), Math.max(...times) || 1];
  const [v0, v1] = [Math.min(...values), Math.max(...values)];
  const x = (t) => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (w - pad - 4);
  const y = (v) => h - pad + 8 - ((v - v0) / Math.max(v1 - v0, 1e-9)) * (h - pad - 4);
  const line = points.map((s, i) => `${x(times[i]).toFixed(1)},${y(values[i]).toFixed(1)}`).join(" ");
  svg.innerHTML =
    `<line class="axis" x1="${pad}" y1="${h - pad + 8}" x2="${w - 4}" y2="${h - pad + 8}"/>` +
    `<line class="axis" x1="${pad}" y1="4" x2="${pad}" y2="${h - pad + 8}"/>` +
    `<text x="2" y="12">${v1.toFixed(1)}</text><text x="2" y="${h - pad + 8}">${v0.toFixed(1)}</text>` +
    `<text x="${pad}" y="${h - 4}">${new Date(t0).toISOString().slice(5, 13)}</text>` +
    `<text x="${w - 70}" y="${h - 4}">${new Date(t1).toISOString().slice(5, 13)}</text>` +
    `<polyline class="line" points="${line}"/>`;
}

function openPanel(title, stats, links) {
  $("panel").hidden = false;
  $("panel-title").textContent = title;
  $("panel-stats").innerHTML = Object.entries(stats)
    .map(([k, v]) => `<dt>${k}</dt><dd data-stat="${k}">${v}</dd>`)
    .join("");
  $("panel-links").innerHTML = links.map(([text, href]) => `<a href="${href}" target="_blank">${text}</a>`).join(" · ");
}

async function openCell(props) {
  const variable = $("variable").value;
  const hours = state.hours;
  const query = new URLSearchParams({
    variable,
    bucket: "1h",
    start: hours[0].toISOString(),
    end: new Date(hours[hours.length - 1].getTime() + HOUR).toISOString(),
  });
  const round = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
  openPanel(
    `Cell ${props.h3}`,
    { variable, hour: $("time-label").value, count: props.count, mean: round(props.mean), min: round(props.min), max: round(props.max) },
    [
      ["series JSON", `/cells/${props.h3}/series?${query}`],
      ["CSV", `/cells/${props.h3}/series?${query}&format=csv`],
      ["GeoJSON", `/cells?variable=${variable}&cells=${props.h3}&start=${query.get("start")}&end=${query.get("end")}`],
    ],
  );
  const series = await getJSON(`/cells/${props.h3}/series?${query}`);
  drawChart(series.series);
  $("panel").dataset.cell = props.h3;
}

function openSensor(props) {
  const stats = { feed: props.feed, id: props.external_id };
  for (const [key, value] of Object.entries(props)) {
    if (key.endsWith("_time")) {
      const variable = key.slice(0, -5);
      const hours = (Date.now() - new Date(value).getTime()) / HOUR;
      const age = hours < 48 ? `${hours.toFixed(0)} h ago` : `${(hours / 24).toFixed(0)} days ago`;
      stats[variable] = `${Number(props[variable]).toFixed(1)} (${value.slice(0, 16)}Z, ${age})`;
    }
  }
  openPanel(props.name || props.external_id, stats, [["sensor", `/sensors/${props.id}`]]);
  $("chart").innerHTML = "";
}

// ---- layers and scenario comparison -----------------------------------------------------------
function layerIdFor(view) {
  const run = state.runs.find((r) => r.id === $("run").value);
  if (!run) return $("layer").value;
  return view === "baseline" ? run.baseline : view === "diff" ? run.diff || run.layer : run.layer;
}

// Scenario and baseline share the baseline's colour range, so their colours compare.
async function sharedRescale(view, variable) {
  const run = state.runs.find((r) => r.id === $("run").value);
  if (!run || view === "diff") return null;
  const legend = await getJSON(`/layers/${run.baseline}/legend.json?variable=${variable || "no2"}`);
  return legend.rescale.join(",");
}

async function layerSource(layerId, variable, rescale) {
  const meta = await getJSON(`/layers/${layerId}`);
  const names = meta.variables.map((v) => v.name);
  const name = names.includes(variable) ? variable : names[0];
  const diff = meta.provenance.model === "diff";
  const query = new URLSearchParams({ variable: name, colormap: diff ? "RdBu_r" : "magma" });
  const steps = meta.time.steps;
  const start = new Date(meta.time.start).getTime();
  const hour = currentHour().getTime();
  if (hour >= start && hour < start + steps * meta.time.step_seconds * 1000) query.set("time", currentHour().toISOString());
  if (rescale) query.set("rescale", rescale);
  if (diff) {
    const legend = await getJSON(`/layers/${layerId}/legend.json?${query}`);
    const bound = Math.max(Math.abs(legend.rescale[0]), Math.abs(legend.rescale[1]), 1e-6);
    query.set("rescale", `${-bound},${bound}`);
  }
  return { meta, name, query };
}

async function showRaster(map, layerId, variable, rescale) {
  if (map.getLayer("layer")) map.removeLayer("layer");
  if (map.getSource("layer")) map.removeSource("layer");
  if (!layerId) return null;
  const { meta, name, query } = await layerSource(layerId, variable, rescale);
  map.addSource("layer", { type: "raster", tiles: [api(`/layers/${layerId}/tiles/{z}/{x}/{y}.png?${query}`)], tileSize: 256 });
  // Above the hexagons, below the sensors: the layer is what a planner looks at.
  const below = map.getLayer("sensors") ? "sensors" : undefined;
  map.addLayer({ id: "layer", type: "raster", source: "layer", paint: { "raster-opacity": Number($("opacity").value) } }, below);
  return { meta, name, query };
}

async function refreshLayer(map) {
  const view = state.view || "layer";
  const left = layerIdFor(view === "side" ? "layer" : view);
  const rescale = await sharedRescale(view, $("layer-variable").value).catch(() => null);
  const shown = await showRaster(map, left, $("layer-variable").value, rescale);
  const legend = $("layer-legend");
  legend.hidden = !shown;
  if (shown) {
    legend.src = api(`/layers/${left}/legend.png?${shown.query}`);
    const select = $("layer-variable");
    const names = shown.meta.variables.map((v) => v.name);
    if ([...select.options].map((o) => o.value).join() !== names.join()) {
      select.innerHTML = names.map((n) => `<option>${n}</option>`).join("");
    }
    select.value = shown.name;
  }
  $("map-right").hidden = view !== "side";
  if (view === "side") {
    state.right = state.right || makeRightMap(map);
    const right = state.right;
    const show = () => showRaster(right, layerIdFor("baseline"), $("layer-variable").value, rescale);
    if (right.loaded()) await show();
    else right.once("load", show);
  }
  map.resize();
  document.body.dataset.layer = left || "";
}

function makeRightMap(left) {
  $("map-right").hidden = false;
  const right = new maplibregl.Map({ container: "map-right", style: baseStyle(), center: left.getCenter(), zoom: left.getZoom() });
  let syncing = false;
  const sync = (from, to) => () => {
    if (syncing) return;
    syncing = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom() });
    syncing = false;
  };
  left.on("move", sync(left, right));
  right.on("move", sync(right, left));
  return right;
}

async function loadRuns() {
  const answer = await getJSON("/scenarios?limit=50");
  state.runs = answer.runs.filter((r) => r.status === "succeeded");
  $("run").innerHTML = '<option value="">—</option>' + state.runs.map((r) => `<option value="${r.id}">${r.name}</option>`).join("");
  const layers = await getJSON("/layers");
  $("layer").innerHTML =
    '<option value="">none</option>' + layers.layers.map((l) => `<option value="${l.id}">${l.title || l.id}</option>`).join("");
}

// ---- the scenario form: draw, choose, run, follow -------------------------------------------
function drawDraft(map) {
  const coordinates = state.drawing || [];
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

async function runScenario(map) {
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
    if (run.status === "succeeded") {
      await loadRuns();
      $("run").value = run.id;
      state.view = "diff";
      await refreshLayer(map);
      writeHash(map);
    }
  } catch (error) {
    status.textContent = `error: ${error.message}`;
    document.body.dataset.scenario = "error";
  }
}

function wireScenarioForm(map) {
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
      drawDraft(map);
    }
  };
  map.on("click", (event) => {
    if (!state.drawing) return;
    state.drawing.push([event.lngLat.lng, event.lngLat.lat]);
    drawDraft(map);
  });
  $("run-scenario").onclick = () => runScenario(map);
}

// ---- start-up -----------------------------------------------------------------------------------
function baseStyle() {
  return { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#eef0ea" } }] };
}

// Road colours by class (OSM highway), widest first; anything else is a thin grey path.
const ROAD_COLOURS = ["motorway", "#e07b39", "trunk", "#e39b4a", "primary", "#f2c14e", "secondary", "#f7dc8c", "tertiary", "#ffffff", "residential", "#ffffff", "#c9c9c9"];
const ROAD_WIDTHS = ["motorway", 4, "trunk", 3.5, "primary", 3, "secondary", 2.5, "tertiary", 2, "residential", 1.5, 0.8];

function baseTiles(layer) {
  return [new URL(`/tiles/${layer}/{z}/{x}/{y}.mvt`, window.location.href).href.replace("%7Bz%7D/%7Bx%7D/%7By%7D", "{z}/{x}/{y}")];
}

// The basemap: the city's own districts, buildings and roads (as imported), under everything else.
async function addBasemap(map, city) {
  const attribution = city.properties.attribution;
  for (const layer of ["districts", "buildings", "roads"]) {
    map.addSource(`base-${layer}`, { type: "vector", tiles: baseTiles(layer), maxzoom: 16, attribution });
  }
  map.addLayer({ id: "buildings", type: "fill", source: "base-buildings", "source-layer": "buildings", paint: { "fill-color": "#d6d0c4", "fill-outline-color": "#b8b0a0" } });
  map.addLayer({ id: "roads", type: "line", source: "base-roads", "source-layer": "roads", layout: { "line-cap": "round", "line-join": "round" }, paint: { "line-color": ["match", ["get", "road_class"], ...ROAD_COLOURS], "line-width": ["match", ["get", "road_class"], ...ROAD_WIDTHS] } });
  map.addLayer({ id: "districts", type: "line", source: "base-districts", "source-layer": "districts", paint: { "line-color": "#777", "line-width": 1, "line-dasharray": [3, 2] } });
  // District names as HTML labels: the map ships no font glyphs (it works offline).
  const districts = await getJSON("/ogc/collections/districts/items?limit=1000");
  for (const feature of districts.features) {
    const label = document.createElement("div");
    label.className = "district-label";
    label.textContent = feature.properties.name;
    new maplibregl.Marker({ element: label }).setLngLat(middle(feature.geometry)).addTo(map);
  }
}

// The middle of a (Multi)Polygon's bounding box: where its name is written.
function middle(geometry) {
  const rings = geometry.type === "Polygon" ? [geometry.coordinates[0]] : geometry.coordinates.map((p) => p[0]);
  const points = rings.flat();
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

function boundaryBounds(city) {
  const rings = city.geometry.type === "Polygon" ? [city.geometry.coordinates[0]] : city.geometry.coordinates.map((p) => p[0]);
  const points = rings.flat();
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
}

async function main() {
  const hash = readHash();
  const city = await getJSON("/city");
  const map = new maplibregl.Map({ container: "map", style: baseStyle(), bounds: boundaryBounds(city), hash: false });
  if (hash.map) {
    const [zoom, lat, lon] = hash.map.split("/").map(Number);
    map.jumpTo({ center: [lon, lat], zoom });
  }
  map.addControl(new maplibregl.NavigationControl());
  map.addControl(new maplibregl.ScaleControl());
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
  wireScenarioForm(map);
  await loadRuns();
  if (hash.run) $("run").value = hash.run;
  if (hash.layer) $("layer").value = hash.layer;
  state.view = hash.view || (hash.run ? "diff" : "layer");
  await showVariable(map);

  $("variable").onchange = () => {
    setHours($("variable").value);
    showVariable(map);
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
    refreshLayer(map).then(() => writeHash(map));
  };
  $("layer").onchange = () => {
    if ($("layer").value) $("run").value = "";
    refreshLayer(map).then(() => writeHash(map));
  };
  $("layer-variable").onchange = () => refreshLayer(map);
  for (const button of $("compare").querySelectorAll("button")) {
    button.onclick = () => {
      state.view = button.dataset.view;
      for (const other of $("compare").querySelectorAll("button")) other.classList.toggle("active", other === button);
      refreshLayer(map).then(() => writeHash(map));
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
  $("panel-close").onclick = () => ($("panel").hidden = true);
  map.once("idle", () => (document.body.dataset.ready = "true"));
}

main().catch((error) => {
  console.error(error);
  document.body.dataset.ready = "error";
});
