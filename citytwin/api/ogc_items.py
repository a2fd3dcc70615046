"""Pages of OGC API - Features items per kind of collection (sensors, the city's base layers,
cell aggregates), kept by a CQL2 selection; what `/ogc/collections/{id}/items` answers."""

from dataclasses import dataclass
from datetime import datetime

from citytwin.api.formats import feature, sensor_feature
from citytwin.api.params import variable_of
from citytwin.db.pool import Connection
from citytwin.db.queries.cells import CellQuery, selected_aggregates
from citytwin.db.queries.features import BASE_PROPERTIES, base_page, sensor_page, time_span
from citytwin.errors import InvalidParameter
from citytwin.feeds import FeedRegistry
from citytwin.query import ogc
from citytwin.query.cells import STAT_COLUMNS, Bounds, boundary, to_hex
from citytwin.query.cql import Selection
from citytwin.query.crs import geometry_to_crs, parse_crs
from citytwin.query.params import Area, TimeRange, widen_to_buckets
from citytwin.settings import Settings


@dataclass(frozen=True)
class Page:
    matched: int
    features: list[dict]


def base_feature(row: dict) -> dict:
    """A feature of a base layer (districts, roads, buildings) from its row."""
    properties = {key: value for key, value in row.items() if key != "geometry"}
    return feature(row["geometry"], properties, row["id"])


def cell_feature(
    row: dict, unit: str | None, window: tuple[datetime, datetime] | None, one_variable: bool
) -> dict:
    """A cell aggregate as a hexagon; id `<h3>` in a one-variable collection, else
    `<h3>:<variable>`; `start`/`end` the window aggregated."""
    h3 = to_hex(row["cell"])
    variable = row["variable"]
    properties: dict = {"h3": h3, "variable": variable, "unit": unit}
    properties |= {name: row[name] for name in STAT_COLUMNS}
    properties |= {
        "start": None if window is None else ogc.iso(window[0]),
        "end": None if window is None else ogc.iso(window[1]),
    }
    polygon = {"type": "Polygon", "coordinates": [boundary(row["cell"])]}
    return feature(polygon, properties, h3 if one_variable else f"{h3}:{variable}")


async def cell_features(
    conn: Connection,
    settings: Settings,
    feeds: FeedRegistry,
    collection: ogc.Collection,
    chosen: dict[str, int],
    area: Area,
    time: TimeRange,
    selection: Selection,
) -> list[dict]:
    """One feature per (cell, variable) with data kept by `selection`, in its order."""
    assert collection.resolution is not None
    window = widen_to_buckets(time, settings.database.rollup_bucket_seconds)
    queries = {
        name: CellQuery(variable_id, collection.resolution, area, window)
        for name, variable_id in chosen.items()
    }
    rows = await selected_aggregates(
        conn,
        queries,
        selection,
        settings.ingest.h3_resolution,
        settings.database.rollup_bucket_seconds,
    )
    span = await time_span(conn) if rows else None
    shown = _window(window, span)
    return [
        cell_feature(
            dict(row), feeds.unit_of(row["variable"]), shown, collection.variable is not None
        )
        for row in rows
    ]


def _window(
    window: TimeRange, span: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime] | None:
    """The time aggregated: the asked window, its open ends closed by the data's span."""
    if span is None:
        return None
    start = max(window.start, span[0]) if window.start else span[0]
    end = min(window.end, span[1]) if window.end else span[1]
    return start, end


async def items_page(
    conn: Connection,
    settings: Settings,
    feeds: FeedRegistry,
    collection: ogc.Collection,
    chosen: dict[str, int],
    bounds: Bounds | None,
    time: TimeRange,
    selection: Selection,
    limit: int,
    offset: int,
) -> Page:
    """One page of `collection`'s features in `bounds` and `time`, kept by `selection`."""
    if collection.resolution is not None:
        area = ogc.search_area(bounds, collection.resolution)
        matching = await cell_features(
            conn, settings, feeds, collection, chosen, area, time, selection
        )
        if bounds is not None:
            rings = [item["geometry"]["coordinates"][0] for item in matching]
            touching = ogc.rings_touching(rings, bounds)
            matching = [item for item, keep in zip(matching, touching, strict=True) if keep]
        return Page(len(matching), matching[offset : offset + limit])
    if collection.layer == "sensors":
        matched, rows = await sensor_page(conn, bounds, time, selection, limit, offset)
        return Page(matched, [sensor_feature(dict(row), free_properties=False) for row in rows])
    matched, rows = await base_page(conn, collection.layer, bounds, selection, limit, offset)
    return Page(matched, [base_feature(dict(row)) for row in rows])


SENSOR_PROPERTIES = ("id", "feed", "external_id", "name", "h3", "mobile")
CELL_PROPERTIES = ("h3", "variable", "unit", *STAT_COLUMNS, "start", "end")


def property_names(collection: ogc.Collection) -> tuple[str, ...]:
    """The properties of `collection`'s features, in their order."""
    if collection.resolution is not None:
        return CELL_PROPERTIES
    if collection.layer == "sensors":
        return SENSOR_PROPERTIES
    return BASE_PROPERTIES[collection.layer]


def keep_properties(features: list[dict], names: tuple[str, ...] | None) -> list[dict]:
    """`features` with only the properties `names` (all when None)."""
    if names is None:
        return features
    return [
        {**item, "properties": {key: item["properties"].get(key) for key in names}}
        for item in features
    ]


def answer_crs(crs: str | None, allowed: list[str], fmt: str) -> str:
    """The CRS asked for in `crs`; GeoParquet answers stay in CRS84 (their metadata says so)."""
    target = parse_crs(crs, allowed, "crs")
    if fmt == "parquet" and target != ogc.CRS84:
        raise InvalidParameter("crs", "GeoParquet answers are in CRS84 only")
    return target


def in_crs(features: list[dict], target: str) -> list[dict]:
    """`features` with their geometries in `target`."""
    if target == ogc.CRS84:
        return features
    return [{**item, "geometry": geometry_to_crs(item["geometry"], target)} for item in features]


def chosen_variables(
    collection: ogc.Collection, variable: str | None, variables: dict[str, int]
) -> dict[str, int]:
    """The variables whose cells the items hold: the collection's one, `variable`, or all."""
    if variable is not None and (collection.resolution is None or collection.variable):
        raise InvalidParameter("variable", "only the cells-r{N} collections take a variable")
    if collection.variable is not None:
        return {collection.variable: variables[collection.variable]}
    if variable is not None:
        picked = variable_of(variable, variables)
        return {picked.name: picked.id}
    return variables
