// The basemap: the city's own districts, buildings and roads (as imported), under everything else.

import { getJSON } from "./http.js";

/** An empty style: a plain background, no remote sources (the map works offline). */
export function baseStyle() {
  return { version: 8, sources: {}, layers: [{ id: "background", type: "background", paint: { "background-color": "#eef0ea" } }] };
}

// Road colours by class (OSM highway), widest first; anything else is a thin grey path.
const ROAD_COLOURS = ["motorway", "#e07b39", "trunk", "#e39b4a", "primary", "#f2c14e", "secondary", "#f7dc8c", "tertiary", "#ffffff", "residential", "#ffffff", "#c9c9c9"];
const ROAD_WIDTHS = ["motorway", 4, "trunk", 3.5, "primary", 3, "secondary", 2.5, "tertiary", 2, "residential", 1.5, 0.8];

function baseTiles(layer) {
  return [new URL(`/tiles/${layer}/{z}/{x}/{y}.mvt`, window.location.href).href.replace("%7Bz%7D/%7Bx%7D/%7By%7D", "{z}/{x}/{y}")];
}

/** Draw the city's districts, buildings and roads with their attribution, and district names. */
export async function addBasemap(map, city) {
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

function extent(geometry) {
  const rings = geometry.type === "Polygon" ? [geometry.coordinates[0]] : geometry.coordinates.map((p) => p[0]);
  const points = rings.flat();
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]];
}

// The middle of a (Multi)Polygon's bounding box: where its name is written.
function middle(geometry) {
  const [[west, south], [east, north]] = extent(geometry);
  return [(west + east) / 2, (south + north) / 2];
}

/** [[west, south], [east, north]] of the city's boundary: the first view. */
export const boundaryBounds = (city) => extent(city.geometry);
