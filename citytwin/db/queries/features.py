"""OGC API - Features: pages of sensors and of the city's base layers (districts, roads,
buildings), and the extents of the stored layers."""

from datetime import datetime

import asyncpg

from citytwin.db.queries.sensors import SENSOR_COLUMNS
from citytwin.db.queries.sql import Bind
from citytwin.query.cql import Selection, order_sql
from citytwin.query.params import TimeRange

Bounds = tuple[float, float, float, float]

# Fixed SQL per layer (no identifier comes from a request).
EXTENT_SQL = {
    layer: f"""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
               FROM (SELECT ST_Extent({column}) AS e FROM {table}) x"""
    for layer, table, column in (
        ("sensors", "sensors", "geom"),
        ("districts", "districts", "geom"),
        ("roads", "roads", "geom"),
        ("buildings", "buildings", "geom"),
        ("cells", "cells", "center"),
    )
}

# min/max of the leading key per variable: index probes, however many rollups exist.
TIME_SPAN_SQL = """
SELECT min(x.first_day), max(x.last_day) + interval '1 day'
FROM variables v
CROSS JOIN LATERAL (
    SELECT min(r.day) AS first_day, max(r.day) AS last_day
    FROM cell_rollups r WHERE r.variable_id = v.id
    UNION ALL
    SELECT min(r.day), max(r.day) FROM cell_rollup_deltas r WHERE r.variable_id = v.id
) x"""

# The properties of each base layer's features (fixed names: no identifier from a request).
BASE_PROPERTIES = {
    "districts": ("id", "name"),
    "roads": ("id", "road_class", "name", "maxspeed", "lanes", "oneway"),
    "buildings": ("id", "use", "name", "levels", "height", "year"),
}


def _base_columns(layer: str) -> str:
    names = ", ".join(f"b.{name}" for name in BASE_PROPERTIES[layer])
    return f"{names}, ST_AsGeoJSON(b.geom, 7)::json AS geometry"


def _envelope(bounds: Bounds, bind: Bind) -> str:
    return f"ST_MakeEnvelope({', '.join(bind(value) for value in bounds)}, 4326)"


async def _page(
    conn: asyncpg.Connection,
    select: str,
    source: str,
    where: list[str],
    order: str,
    bind: Bind,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    condition = " AND ".join(where) or "true"
    matched = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {condition}", *bind.values)
    rows = await conn.fetch(
        f"SELECT {select} FROM {source} WHERE {condition} ORDER BY {order} "
        f"LIMIT {bind(limit)} OFFSET {bind(offset)}",
        *bind.values,
    )
    return matched, rows


async def sensor_page(
    conn: asyncpg.Connection,
    bounds: Bounds | None,
    time: TimeRange,
    selection: Selection,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    """(sensors matched, one page of them in `selection`'s order, then by id): in `bounds`,
    with readings in `time`, kept by `selection`'s filter."""
    bind = Bind()
    where = selection.where(bind)
    if bounds is not None:
        where.append(f"ST_Intersects(s.geom, {_envelope(bounds, bind)})")
    if time.start or time.end:
        during = [f"r.time >= {bind(time.start)}"] if time.start else []
        during += [f"r.time < {bind(time.end)}"] if time.end else []
        where.append(
            f"EXISTS (SELECT 1 FROM readings r WHERE r.sensor_id = s.id AND {' AND '.join(during)})"
        )
    order = order_sql(selection.order, "s.id")
    return await _page(conn, SENSOR_COLUMNS, "sensors s", where, order, bind, limit, offset)


async def base_page(
    conn: asyncpg.Connection,
    layer: str,
    bounds: Bounds | None,
    selection: Selection,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    """(features of base `layer` matched, one page of them in `selection`'s order, then by id)
    intersecting `bounds`, kept by `selection`'s filter."""
    bind = Bind()
    where = selection.where(bind)
    if bounds is not None:
        where.append(f"ST_Intersects(b.geom, {_envelope(bounds, bind)})")
    columns, order = _base_columns(layer), order_sql(selection.order, "b.id")
    return await _page(conn, columns, f"{layer} b", where, order, bind, limit, offset)


async def fetch_base_feature(
    conn: asyncpg.Connection, layer: str, feature_id: str
) -> asyncpg.Record | None:
    """One feature of base `layer` by id, or None."""
    return await conn.fetchrow(
        f"SELECT {_base_columns(layer)} FROM {layer} b WHERE b.id = $1", feature_id
    )


async def layer_bounds(conn: asyncpg.Connection, layer: str) -> Bounds | None:
    """(west, south, east, north) of a stored layer (cells: their centres), None when empty."""
    row = await conn.fetchrow(EXTENT_SQL[layer])
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


# The parent of each stored base cell at resolution $1, by the bits of the H3 index (as
# `citytwin.query.cells.parents` does): clear the resolution, set $1, fill the finer digits with 7.
PARENTS_SQL = """
SELECT DISTINCT (cell & ~(15::int8 << 52)) | ($1::int8 << 52)
                | ((1::int8 << (3 * (15 - $1::int4))) - 1)
FROM cells"""


async def cell_parents(conn: asyncpg.Connection, resolution: int) -> list[int]:
    """The distinct cells at `resolution` holding stored base cells."""
    return [row[0] for row in await conn.fetch(PARENTS_SQL, resolution)]


async def time_span(conn: asyncpg.Connection) -> tuple[datetime, datetime] | None:
    """[first UTC day, day after the last) holding readings, from the rollups; None if none."""
    row = await conn.fetchrow(TIME_SPAN_SQL)
    return None if row[0] is None else (row[0], row[1])


# One index probe per variable (rollups lead with variable_id), however many rollups exist.
VARIABLES_WITH_DATA_SQL = """
SELECT v.name FROM variables v
WHERE EXISTS (SELECT 1 FROM cell_rollups r WHERE r.variable_id = v.id)
ORDER BY v.name"""


async def variables_with_data(conn: asyncpg.Connection) -> list[str]:
    """The names of the variables with rollups, in name order."""
    return [row[0] for row in await conn.fetch(VARIABLES_WITH_DATA_SQL)]
