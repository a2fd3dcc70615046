"""An OpenStreetMap PBF read with pyosmium: highway ways, building areas, administrative areas.

Ids are `w<way id>` and `r<relation id>`; tag columns are the OSM keys the column mapping names.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import osmium
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from citytwin.errors import MalformedInput
from citytwin.ingest.city.mapping import Columns

ADMIN_TAGS = ("name", "admin_level")


@dataclass(frozen=True)
class OsmLayers:
    """Raw layers of a PBF (EPSG:4326): columns `id`, the mapped tag keys, geometry."""

    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    admin: gpd.GeoDataFrame  # boundary=administrative areas: id, name, admin_level


def _tags(columns: Columns, layer: str) -> set[str]:
    return {name for candidates in columns[layer].values() for name in candidates} - {"id"}


def _frame(rows: list[dict], keys: set[str]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=["id", *sorted(keys), "wkb"])
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy(), on_invalid="ignore")
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)


def read_pbf(
    path: Path, columns: Columns, on_progress: Callable[[int], None] | None = None
) -> OsmLayers:
    """Roads, buildings and admin areas of a PBF; MalformedInput naming the file if it cannot
    be read. A geometry osmium cannot build (a way cut at the extract's edge) is left None."""
    if not path.exists():
        raise MalformedInput(f"{path}: no such file")
    road_keys, building_keys = _tags(columns, "roads"), _tags(columns, "buildings")
    wkb = osmium.geom.WKBFactory()
    roads: list[dict] = []
    buildings: list[dict] = []
    admin: list[dict] = []
    seen = 0
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_areas(osmium.filter.KeyFilter("building", "boundary"))
            .with_filter(osmium.filter.KeyFilter("highway", "building", "boundary"))
        )
        for item in processor:
            seen += 1
            if on_progress is not None and seen % 10_000 == 0:
                on_progress(seen)
            tags = item.tags
            # A highway area (a square, `area=yes`) is a place, not a road.
            if item.is_way() and "highway" in tags and tags.get("area") != "yes":
                row = {key: tags.get(key) for key in road_keys}
                geometry = _build(wkb.create_linestring, item)
                roads.append({**row, "id": f"w{item.id}", "wkb": geometry})
            elif item.is_area():
                kind = "w" if item.from_way() else "r"
                area_id = f"{kind}{item.orig_id()}"
                geometry = _build(wkb.create_multipolygon, item)
                if "building" in tags:
                    row = {key: tags.get(key) for key in building_keys}
                    buildings.append({**row, "id": area_id, "wkb": geometry})
                if tags.get("boundary") == "administrative":
                    row = {key: tags.get(key) for key in ADMIN_TAGS}
                    admin.append({**row, "id": area_id, "wkb": geometry})
    except RuntimeError as exc:
        raise MalformedInput(f"{path}: cannot be read as OSM PBF: {exc}") from None
    return OsmLayers(
        _frame(roads, road_keys),
        _frame(buildings, building_keys),
        _frame(admin, set(ADMIN_TAGS)),
    )


def _build(factory: Callable, item: object) -> bytes | None:
    try:
        return bytes.fromhex(factory(item))
    except (osmium.InvalidLocationError, RuntimeError):
        return None


def _level(frame: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(frame["admin_level"], errors="coerce")


def admin_area(layers: OsmLayers, name: str, path: Path) -> tuple[BaseGeometry, float]:
    """(geometry, admin_level) of the administrative area named `name` (case-insensitive; the
    largest if several); MalformedInput naming the file if there is none."""
    admin = layers.admin[layers.admin.geometry.notna()]
    found = admin[admin["name"].str.casefold() == name.casefold()]
    if found.empty:
        known = ", ".join(sorted(admin["name"].dropna().unique())[:20]) or "none"
        raise MalformedInput(
            f"{path}: no administrative area named {name!r} (areas in the file: {known})"
        )
    largest = found.to_crs(found.estimate_utm_crs()).area.to_numpy().argmax()
    return found.geometry.iloc[largest], float(_level(found).iloc[largest])


def admin_districts(layers: OsmLayers, below_level: float | None) -> gpd.GeoDataFrame:
    """Administrative areas finer than `below_level` (all when None), as id/name/geometry."""
    admin = layers.admin
    if below_level is not None:
        admin = admin[_level(admin) > below_level]
    return admin[["id", "name", "geometry"]]
