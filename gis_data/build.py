"""Build the demo-city base layers (Vaduz, Liechtenstein) from the shared OpenStreetMap extract."""

# Usage: .venv/bin/python gis_data/build.py [EXTRACT_DIR] [--out DIR]
# EXTRACT_DIR holds districts.geojson, roads.geojson and buildings.geojson (EPSG:4326) converted
# from the 2015 Liechtenstein extract of the valhalla test data; it defaults to
# `../shared/data/real/liechtenstein_osm` relative to the repository root. The output is
# deterministic: features sorted by id, coordinates rounded to 6 decimals, fixed key order.

import argparse
import json
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent / ".." / "shared" / "data" / "real" / "liechtenstein_osm"
CITY = "Vaduz"
DECIMALS = 6
METRIC_CRS = "EPSG:2056"  # CH1903+ / LV95, the national grid of Liechtenstein too
ATTRIBUTION = (
    "© OpenStreetMap contributors, ODbL 1.0 (https://opendatacommons.org/licenses/odbl/), "
    "extract of 2015 via the valhalla test data"
)
MPH = 1.609344


def slug(text: str) -> str:
    """Lowercase ASCII slug: accents stripped, runs of other characters become `-`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _text(value: Any) -> str | None:
    """The stripped string, or None for missing and empty values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def parse_maxspeed(value: Any) -> int | None:
    """OSM maxspeed as km/h (`50`, `50 mph`); None for `none`, `walk`, zone codes and the like."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?", _text(value) or "")
    if match is None:
        return None
    speed = float(match.group(1)) * (MPH if match.group(2) == "mph" else 1.0)
    return round(speed) if speed > 0 else None


def parse_int(value: Any) -> int | None:
    """A non-negative count such as `lanes` or `building:levels`; None unless it is one number."""
    match = re.fullmatch(r"\d+(?:\.\d+)?", _text(value) or "")
    return round(float(match.group(0))) if match else None


def parse_height(value: Any) -> float | None:
    """A height in metres (`12`, `12.5 m`); None for other units and text."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*m?", _text(value) or "")
    return round(float(match.group(1)), 1) if match else None


def _round_coords(coords: Any) -> Any:
    """Nested coordinate arrays rounded to DECIMALS (snapping leaves float noise behind)."""
    if isinstance(coords[0], float | int):
        return [round(float(c), DECIMALS) for c in coords[:2]]
    return [_round_coords(c) for c in coords]


def snap(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Geometries snapped to the 6-decimal grid (kept valid), and the features that collapsed."""
    snapped = frame.set_geometry(frame.geometry.set_precision(10**-DECIMALS))
    empty = snapped.geometry.is_empty
    return snapped[~empty].reset_index(drop=True), frame[empty]


def geometry_json(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry of a snapped shape, polygons oriented as RFC 7946 asks."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = shapely.orient_polygons(geom)
    data = mapping(geom)
    return {"type": data["type"], "coordinates": _round_coords(data["coordinates"])}


def _plain(value: Any) -> Any:
    """A JSON-ready property value: numpy scalars as Python ones, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def write_geojson(path: Path, frame: gpd.GeoDataFrame, columns: list[str]) -> None:
    """A FeatureCollection with one feature per line, properties in the given order."""
    lines = []
    for row in frame.itertuples(index=False):
        properties = {c: _plain(getattr(row, c)) for c in columns}
        geometry = geometry_json(row.geometry)
        feature = {"type": "Feature", "properties": properties, "geometry": geometry}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def _column(values: pd.Series, parse: Callable[[Any], Any]) -> pd.Series:
    """Parsed values kept as Python objects, so integers stay integers next to None."""
    return pd.Series([parse(v) for v in values], index=values.index, dtype=object)


def build_districts(source: Path) -> gpd.GeoDataFrame:
    """All municipalities with a name and a slug id, sorted by id."""
    raw = gpd.read_file(source / "districts.geojson").to_crs(4326)
    frame = gpd.GeoDataFrame(
        {"id": raw["district"].map(slug), "name": raw["district"], "osm_id": raw["osm_id"]},
        geometry=raw.geometry.make_valid(),
        crs=4326,
    )
    if frame["id"].duplicated().any():
        raise ValueError("district slugs are not unique")
    return frame.sort_values("id").reset_index(drop=True)


def build_roads(source: Path, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    """Highway ways intersecting the boundary, clipped to it, with parsed speed and lanes."""
    raw = gpd.read_file(source / "roads.geojson").to_crs(4326)
    raw = raw[raw.intersects(boundary)]
    clipped = raw.geometry.intersection(boundary)
    lines = clipped.map(_lines_only)
    keep = ~lines.is_empty
    raw, lines = raw[keep], lines[keep]
    frame = gpd.GeoDataFrame(
        {
            "osm_id": raw["osm_id"].astype("int64"),
            "highway": _column(raw["highway"], _text),
            "name": _column(raw["name"], _text),
            "maxspeed": _column(raw["maxspeed"], parse_maxspeed),
            "lanes": _column(raw["lanes"], parse_int),
        },
        geometry=lines,
        crs=4326,
    )
    return frame.sort_values("osm_id").reset_index(drop=True)


def _lines_only(geom: BaseGeometry) -> BaseGeometry:
    """The linear part of a clip result, merged where pieces touch (touching points dropped)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("LineString", "MultiLineString")]
    if not parts:
        return shapely.LineString()
    return shapely.line_merge(shapely.union_all(parts), directed=True)


def build_buildings(source: Path, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    """Building footprints whose representative point lies inside the boundary (not clipped)."""
    raw = gpd.read_file(source / "buildings.geojson").to_crs(4326)
    raw = raw[raw.representative_point().within(boundary)]
    frame = gpd.GeoDataFrame(
        {
            "osm_id": raw["osm_id"].astype("int64"),
            "osm_type": _column(raw["osm_type"], _text),
            "building": _column(raw["building"], _text),
            "name": _column(raw["name"], _text),
            "levels": _column(raw["levels"], parse_int),
            "height": _column(raw["height"], parse_height),
        },
        geometry=raw.geometry,
        crs=4326,
    )
    return frame.sort_values(["osm_type", "osm_id"]).reset_index(drop=True)


def _bbox(bounds: Any) -> str:
    """West, south, east, north rounded to 6 decimals."""
    return ", ".join(f"{v:.6f}" for v in bounds)


def _lost_note(lost: list[str]) -> str:
    """A README line on the features dropped because they vanish on the 6-decimal grid."""
    if not lost:
        return "No feature vanished when snapped to the 6-decimal grid."
    return f"Dropped {len(lost)} degenerate feature(s) that vanish on the 6-decimal grid: " + (
        ", ".join(lost) + " (slivers thinner than about 0.1 m)."
    )


def write_readme(
    path: Path,
    districts: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    lost: list[str],
) -> None:
    """The folder's README with counts, bbox and attribution, generated so it never drifts."""
    area_km2 = boundary.to_crs(METRIC_CRS).area.iloc[0] / 1e6
    road_km = roads.to_crs(METRIC_CRS).length.sum() / 1e3
    by_class = roads.groupby("highway").size().sort_values(ascending=False)
    by_use = buildings.groupby("building").size().sort_values(ascending=False)
    parts = shapely.get_parts(boundary.geometry.iloc[0])
    valley = max(parts, key=lambda g: g.area)
    text = f"""# Demo city base data: {CITY}, Liechtenstein

Generated by `build.py` from the shared OpenStreetMap extract; do not edit by hand, rerun:

    .venv/bin/python gis_data/build.py [EXTRACT_DIR]

All files are GeoJSON FeatureCollections in EPSG:4326 (lon, lat), coordinates rounded to
6 decimals (about 0.1 m), one feature per line, sorted by id, polygons oriented per RFC 7946.

| file | content | features |
|---|---|---|
| `boundary.geojson` | the {CITY} municipality, {area_km2:.2f} km², a MultiPolygon of \
{len(parts)} parts (the main territory and its exclaves); property `name` \
| {len(boundary)} |
| `districts.geojson` | all municipalities of Liechtenstein (OSM admin_level 8); \
`id` (lowercase ASCII slug, stable), `name`, `osm_id` (relation) | {len(districts)} |
| `roads.geojson` | OSM highway ways intersecting {CITY}, clipped to the boundary \
({road_km:.1f} km); `osm_id`, `highway` (class), `name`, `maxspeed` (km/h, int or null), \
`lanes` (int or null) | {len(roads)} |
| `buildings.geojson` | OSM building footprints whose representative point is inside {CITY} \
(not clipped); `osm_id`, `osm_type` (way/relation), `building` (use tag), `name`, `levels` \
(int or null), `height` (m, float or null) | {len(buildings)} |

Bounding box of {CITY} (west, south, east, north): {_bbox(boundary.total_bounds)}

Bounding box of the valley part (the largest polygon, where the town is):
{_bbox(valley.bounds)}

Road classes: {", ".join(f"{k} {v}" for k, v in by_class.items())}.

Building uses: {", ".join(f"{k} {v}" for k, v in by_use.items())}.

## Caveats of the source

- The extract dates from July 2015 and its building coverage is incomplete; most buildings
  are tagged only `building=yes`. Of the {len(buildings)} buildings in {CITY},
  {buildings["levels"].notna().sum()} have `building:levels` and \
{buildings["height"].notna().sum()} have `height`.
- {_lost_note(lost)}
- Roads crossing the boundary are cut at it, so a few clipped pieces are only metres long.

## Source and licence

{ATTRIBUTION}.

Source file: `test/data/liechtenstein-latest.osm.pbf` of github.com/valhalla/valhalla
(replication timestamp 2015-07-27T21:14:01Z), converted to GeoJSON with pyosmium and geopandas.

This folder is a derived database of OpenStreetMap data and is licensed under the Open Database
License 1.0 (ODbL): public use of it, or of works produced from it, must credit
"© OpenStreetMap contributors", and adapted databases made from it must be offered under the
ODbL too.
"""
    path.write_text(text, encoding="utf-8")


def main() -> None:
    """Parse the arguments and write the layers and README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    args = parser.parse_args()
    source, out = args.source.resolve(), args.out
    out.mkdir(parents=True, exist_ok=True)

    districts, _ = snap(build_districts(source))
    city = districts[districts["name"] == CITY]
    if len(city) != 1:
        raise ValueError(f"expected one district named {CITY}, found {len(city)}")
    boundary = gpd.GeoDataFrame({"name": [CITY]}, geometry=list(city.geometry), crs=4326)
    shape = boundary.geometry.iloc[0]
    roads, lost_roads = snap(build_roads(source, shape))
    buildings, lost_buildings = snap(build_buildings(source, shape))
    lost = [f"road way {i}" for i in lost_roads["osm_id"]]
    lost += [f"building {row.osm_type} {row.osm_id}" for row in lost_buildings.itertuples()]

    write_geojson(out / "boundary.geojson", boundary, ["name"])
    write_geojson(out / "districts.geojson", districts, ["id", "name", "osm_id"])
    write_geojson(out / "roads.geojson", roads, ["osm_id", "highway", "name", "maxspeed", "lanes"])
    write_geojson(
        out / "buildings.geojson",
        buildings,
        ["osm_id", "osm_type", "building", "name", "levels", "height"],
    )
    write_readme(out / "README.md", districts, boundary, roads, buildings, lost)
    bbox = _bbox(boundary.total_bounds)
    print(f"{CITY}: {len(roads)} roads, {len(buildings)} buildings; bbox {bbox}")


if __name__ == "__main__":
    main()
