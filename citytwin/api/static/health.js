// The "Sensor health" layer: each sensor coloured by its health score from `/sensors/health`
// (share of its readings of the last week without a fault), a legend with those numbers, and a
// popup listing a sensor's open faults.

import { $, escapeHTML, getJSON } from "./http.js";
import { drawLegend } from "./legend.js";

// Red to green: most sensors score 1, so the scale spends its colours near the top, where a
// failing sensor starts (a stuck day in a week is 0.86).
export const HEALTH_STOPS = [
  [0, "#d7191c"],
  [0.5, "#fdae61"],
  [0.9, "#a6d96a"],
  [1, "#1a9641"],
];
const NO_DATA = "#999999";

function popupHTML(props) {
  // MapLibre hands nested properties of a GeoJSON source back as JSON text.
  const faults = typeof props.open === "string" ? JSON.parse(props.open) : props.open || [];
  const title = escapeHTML(props.name || props.external_id);
  const score = props.score === undefined || props.score === null ? "no readings" : `score ${props.score}`;
  const lines = faults.length
    ? faults.map((f) => `<li>${escapeHTML(f.variable)}: ${escapeHTML(f.kind)} since ${f.since.slice(0, 16).replace("T", " ")} UTC</li>`).join("")
    : "<li>no open fault</li>";
  return `<strong>${title}</strong> (${escapeHTML(props.feed)}, ${score})<ul class="faults">${lines}</ul>` + `<a href="/sensors/${encodeURIComponent(props.id)}/health" target="_blank">health JSON</a>`;
}

async function loadHealth(map) {
  const network = await getJSON("/sensors/health");
  map.getSource("health").setData(network);
  const scored = network.features.filter((f) => f.properties.score !== null).length;
  const open = Object.entries(network.kinds).filter(([, total]) => total.open > 0);
  const faults = open.length ? open.map(([kind, total]) => `${kind} ${total.open}`).join(", ") : "none";
  drawLegend($("health-legend"), {
    stops: HEALTH_STOPS,
    unit: "share of readings without a fault",
    caption: `${network.window_hours} h before each sensor's newest reading; ${scored} sensors scored (grey: no readings), ${network.faulty} with an open fault (${faults})`,
  });
}

/** Add the (hidden) layer; the checkbox shows it, fetching the network's health each time. */
export function addHealthLayer(map) {
  map.addSource("health", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "health",
    type: "circle",
    source: "health",
    layout: { visibility: "none" },
    paint: {
      "circle-radius": 7,
      "circle-color": ["case", ["==", ["typeof", ["get", "score"]], "number"], ["interpolate", ["linear"], ["get", "score"], ...HEALTH_STOPS.flat()], NO_DATA],
      "circle-stroke-color": ["case", ["==", ["get", "status"], "fault"], "#000000", "#ffffff"],
      "circle-stroke-width": ["case", ["==", ["get", "status"], "fault"], 2, 1],
    },
  });
  map.on("click", "health", (event) => {
    new maplibregl.Popup().setLngLat(event.features[0].geometry.coordinates).setHTML(popupHTML(event.features[0].properties)).addTo(map);
  });
  $("show-health").onchange = async (event) => {
    const shown = event.target.checked;
    $("health-legend").hidden = !shown;
    if (shown) await loadHealth(map);
    map.setLayoutProperty("health", "visibility", shown ? "visible" : "none");
    document.body.dataset.health = shown ? "shown" : "";
  };
}
