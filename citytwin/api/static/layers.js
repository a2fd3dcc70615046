// Simulation layers as raster overlays, scenario comparison (scenario, baseline, difference,
// side by side) and the layer legend with its numbers, unit and the meaning of each side.

import { $, api, escapeHTML, getJSON } from "./http.js";
import { addBasemap, baseStyle } from "./basemap.js";
import { drawLegend, formatNumber } from "./legend.js";

// Pixels nearer zero than this share of the scale are see-through: negligible concentrations
// and differences of about nil leave the basemap readable instead of an opaque rectangle.
const CLEAR_SEQUENTIAL = 0.1;
const CLEAR_DIVERGING = 0.05;
const TITLES = { layer: "Scenario", baseline: "Baseline", diff: "Difference: scenario − baseline" };

const runOf = (state) => state.runs.find((r) => r.id === $("run").value);

function layerIdFor(state, view) {
  const run = runOf(state);
  if (!run) return $("layer").value;
  return view === "baseline" ? run.baseline : view === "diff" ? run.diff || run.layer : run.layer;
}

// Scenario and baseline share the baseline's colour range, so their colours compare.
async function sharedRescale(state, view, variable) {
  const run = runOf(state);
  if (!run || view === "diff") return null;
  const legend = await getJSON(`/layers/${run.baseline}/legend.json?variable=${variable || "no2"}`);
  return legend.rescale.join(",");
}

/** How to draw a layer at the shown hour: variable, colours, range, threshold, legend. */
async function layerStyle(layerId, variable, rescale, hour) {
  const meta = await getJSON(`/layers/${layerId}`);
  const names = meta.variables.map((v) => v.name);
  const name = names.includes(variable) ? variable : names[0];
  const diff = meta.provenance.model === "diff";
  const query = new URLSearchParams({ variable: name, colormap: diff ? "RdBu_r" : "magma" });
  const start = new Date(meta.time.start).getTime();
  const inside = hour.getTime() >= start && hour.getTime() < start + meta.time.steps * meta.time.step_seconds * 1000;
  if (inside) query.set("time", hour.toISOString());
  if (rescale) query.set("rescale", rescale);
  let legend = await getJSON(`/layers/${layerId}/legend.json?${query}`);
  let threshold = 0;
  if (diff) {
    // Symmetric about zero, so white means "no change" and each side reads as one sign.
    const bound = Math.max(Math.abs(legend.rescale[0]), Math.abs(legend.rescale[1]), 1e-6);
    query.set("rescale", `${-bound},${bound}`);
    threshold = CLEAR_DIVERGING * bound;
  } else if (legend.rescale[0] >= 0) {
    threshold = legend.rescale[0] + CLEAR_SEQUENTIAL * (legend.rescale[1] - legend.rescale[0]);
  }
  if (threshold > 0) query.set("threshold", formatNumber(threshold));
  legend = await getJSON(`/layers/${layerId}/legend.json?${query}`);
  return { meta, name, diff, query, legend };
}

function drawLayerLegend(style, title) {
  const { legend, diff, name } = style;
  const unit = legend.unit || "";
  const last = legend.stops.length - 1;
  const clear = legend.threshold > 0 ? `; clear ${diff ? "within ±" : "below "}${formatNumber(legend.threshold)} ${unit}` : "";
  drawLegend($("layer-legend"), {
    stops: legend.stops,
    unit,
    ticks: [0, Math.floor(last / 2), last],
    caption: `${name}, ${title}${clear}`,
    sides: diff ? ["◀ blue: scenario lower than baseline", "red: scenario higher ▶"] : null,
  });
}

async function showRaster(map, layerId, style) {
  if (map.getLayer("layer")) map.removeLayer("layer");
  if (map.getSource("layer")) map.removeSource("layer");
  if (!layerId) return;
  map.addSource("layer", { type: "raster", tiles: [api(`/layers/${layerId}/tiles/{z}/{x}/{y}.png?${style.query}`)], tileSize: 256 });
  // Above the hexagons, below the sensors: the layer is what a planner looks at.
  const below = map.getLayer("sensors") ? "sensors" : undefined;
  map.addLayer({ id: "layer", type: "raster", source: "layer", paint: { "raster-opacity": Number($("opacity").value) } }, below);
}

function labelPane(id, text) {
  const label = $(id);
  label.hidden = !text;
  label.textContent = text || "";
}

/** Show the chosen layer or run in the chosen view at `hour`, with its legend and pane labels. */
export async function refreshLayer(map, state, hour) {
  const view = state.view || "layer";
  const left = layerIdFor(state, view === "side" ? "layer" : view);
  const rescale = await sharedRescale(state, view, $("layer-variable").value).catch(() => null);
  const style = left ? await layerStyle(left, $("layer-variable").value, rescale, hour) : null;
  await showRaster(map, left, style);
  const run = runOf(state);
  const title = run ? `${TITLES[view === "side" ? "layer" : view]} (${run.name})` : $("layer").selectedOptions[0]?.textContent;
  $("layer-legend").hidden = !style;
  labelPane("label-left", style ? title : "");
  if (style) {
    drawLayerLegend(style, view === "side" ? "both panes on the baseline's range" : title);
    const select = $("layer-variable");
    const names = style.meta.variables.map((v) => v.name);
    if ([...select.options].map((o) => o.value).join() !== names.join()) {
      select.innerHTML = names.map((n) => `<option>${n}</option>`).join("");
    }
    select.value = style.name;
  }
  $("map-right").hidden = view !== "side";
  labelPane("label-right", view === "side" && run ? `${TITLES.baseline} (${run.name})` : "");
  if (view === "side") {
    state.right = state.right || makeRightMap(map, state.city);
    const right = state.right;
    const show = async () => {
      const baseline = layerIdFor(state, "baseline");
      await showRaster(right, baseline, await layerStyle(baseline, $("layer-variable").value, rescale, hour));
    };
    if (right.loaded()) await show();
    else right.once("load", show);
  }
  map.resize();
  document.body.dataset.layer = left || "";
}

function makeRightMap(left, city) {
  $("map-right").hidden = false;
  const right = new maplibregl.Map({ container: "map-right", style: baseStyle(), center: left.getCenter(), zoom: left.getZoom(), attributionControl: false });
  right.addControl(new maplibregl.AttributionControl({ compact: false }));
  right.once("load", () => addBasemap(right, city));
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

/** Fill the run and layer pickers from the API. */
export async function loadRuns(state) {
  const answer = await getJSON("/scenarios?limit=50");
  state.runs = answer.runs.filter((r) => r.status === "succeeded");
  $("run").innerHTML = '<option value="">—</option>' + state.runs.map((r) => `<option value="${r.id}">${escapeHTML(r.name)}</option>`).join("");
  const layers = await getJSON("/layers");
  $("layer").innerHTML =
    '<option value="">none</option>' + layers.layers.map((l) => `<option value="${escapeHTML(l.id)}">${escapeHTML(l.title || l.id)}</option>`).join("");
}
