"""Vector tiles built by PostGIS (ST_AsMVT): cell aggregates as hexagons, sensors as points,
and the city's base layers (districts, roads, buildings)."""

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from citytwin.db.queries.sql import Bind
from citytwin.tiles.tile_matrix import Tile
from citytwin.tiles.versions import VERSION_RESOLUTION

EXTENT = 4096
BUFFER = 64
# A tile's envelope in the CRS of its tile matrix set, from the first five parameters
# (left, bottom, right, top, SRID): see `_tile_args`.
SRID = "$5::int"
ENVELOPE = f"ST_MakeEnvelope($1::float8, $2::float8, $3::float8, $4::float8, {SRID})"


def _grown(share: float) -> str:
    """The tile's envelope grown by `share` of its width on each side (tiles are square)."""
    return f"ST_Expand({ENVELOPE}, ($3::float8 - $1::float8) * {share})"


def _tile_args(tile: Tile) -> tuple:
    return (*tile.xy_bounds, tile.srid)


CELLS_MVT = f"""
SELECT ST_AsMVT(t, 'cells', {EXTENT}, 'geom') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(ST_GeomFromWKB(c.wkb, 4326), {SRID}),
                        {ENVELOPE}, {EXTENT}, {BUFFER}, true) AS geom,
           c.h3, c.count, c.mean, c.min, c.max
    FROM unnest($6::bytea[], $7::text[], $8::int8[], $9::float8[], $10::float8[], $11::float8[])
         AS c (wkb, h3, count, mean, min, max)
) t WHERE t.geom IS NOT NULL
"""

# The sensors a tile draws: those whose point lies within the tile and its rendering buffer.
DRAWN_SENSORS = f"""
    SELECT s.id, s.feed, s.external_id, s.name, s.geom, s.cell, s.mobile FROM sensors s
    WHERE s.geom && ST_Transform({_grown(0.05)}, 4326)"""

SENSORS_MVT = f"""
WITH picked AS ({DRAWN_SENSORS}
), latest AS (
    SELECT p.id, jsonb_object_agg(v.name, l.value)
               || jsonb_object_agg(v.name || '_time', to_char(l.time AT TIME ZONE 'UTC',
                                                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
               AS values
    FROM picked p
    JOIN feeds f ON f.name = p.feed
    CROSS JOIN LATERAL jsonb_object_keys(f.definition -> 'variables') AS k (name)
    JOIN variables v ON v.name = k.name
    CROSS JOIN LATERAL (
        SELECT r.value, r.time FROM readings r
        WHERE r.sensor_id = p.id AND r.variable_id = v.id
        ORDER BY r.time DESC LIMIT 1
    ) l
    GROUP BY p.id
)
SELECT ST_AsMVT(t, 'sensors', {EXTENT}, 'geom') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(p.geom, {SRID}), {ENVELOPE},
                        {EXTENT}, {BUFFER}, true) AS geom,
           p.id, p.feed, p.external_id, p.name, coalesce(l.values, '{{}}') AS values
    FROM picked p LEFT JOIN latest l USING (id)
) t WHERE t.geom IS NOT NULL
"""


async def cells_tile(
    conn: asyncpg.Connection, tile: Tile, hexagons: Sequence[bytes], rows: Sequence[dict]
) -> bytes:
    """The MVT of `rows` (h3, count, mean, min, max) drawn as `hexagons` (WKB, lon/lat)."""
    return await conn.fetchval(
        CELLS_MVT,
        *_tile_args(tile),
        list(hexagons),
        [r["h3"] for r in rows],
        [r["count"] for r in rows],
        [r["mean"] for r in rows],
        [r["min"] for r in rows],
        [r["max"] for r in rows],
    )


async def sensors_tile(conn: asyncpg.Connection, tile: Tile) -> bytes:
    """The MVT of the sensors in `tile`, each with its latest value (and time) per variable."""
    return await conn.fetchval(SENSORS_MVT, *_tile_args(tile))


async def newest_day(conn: asyncpg.Connection, variable_id: int) -> datetime | None:
    """The newest UTC day holding rollups of the variable (day rows or deltas): index probes."""
    return await conn.fetchval(
        """SELECT max(d) FROM (
               SELECT max(day) AS d FROM cell_rollups WHERE variable_id = $1
               UNION ALL
               SELECT max(day) FROM cell_rollup_deltas WHERE variable_id = $1) x""",
        variable_id,
    )


async def changed_versions(
    conn: asyncpg.Connection, after: int | None, limit: int
) -> tuple[int, list[tuple]]:
    """The store's highest tile version, and the (variable_id, day, cell) version keys bumped
    above `after` (at most `limit`; none when `after` is None)."""
    newest = await conn.fetchval("SELECT coalesce(max(version), 0) FROM tile_versions")
    if after is None:
        return newest, []
    rows = await conn.fetch(
        "SELECT variable_id, day, cell FROM tile_versions "
        "WHERE version > $1 AND version <= $2 ORDER BY version LIMIT $3",
        after,
        newest,
        limit,
    )
    return newest, [tuple(row) for row in rows]


async def sensors_version(conn: asyncpg.Connection, tile: Tile) -> tuple[tuple[int, int], bool]:
    """(highest version, number of version keys) of the data behind the sensors `tile` draws,
    and whether it draws a mobile sensor: its latest reading may come from anywhere, so such a
    tile follows every version."""
    row = await conn.fetchrow(
        f"""WITH drawn AS ({DRAWN_SENSORS}), mobile AS (SELECT bool_or(mobile) AS drawn FROM drawn)
            SELECT coalesce(max(v.version), 0), count(v.version),
                   coalesce((SELECT drawn FROM mobile), false)
            FROM tile_versions v
            WHERE (SELECT drawn FROM mobile)
               OR v.cell IN (SELECT h3_parent(drawn.cell, {VERSION_RESOLUTION}) FROM drawn)""",
        *_tile_args(tile),
    )
    return (row[0], row[1]), row[2]


async def data_version(
    conn: asyncpg.Connection,
    bounds: tuple[float, float, float, float],
    variable_id: int,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int]:
    """(highest version, number of version keys) of the data under `bounds`: equal answers mean
    nothing under the tile changed for this variable and time range."""
    bind = Bind()
    envelope = f"ST_MakeEnvelope({', '.join(bind(v) for v in bounds)}, 4326)"
    where = [
        f"v.cell IN (SELECT DISTINCT h3_parent(c.cell, {VERSION_RESOLUTION}) FROM cells c "
        f"WHERE c.center && {envelope})",
        f"v.variable_id = {bind(variable_id)}",
    ]
    if start is not None:
        where.append(f"v.day > {bind(start)}::timestamptz - interval '1 day'")
    if end is not None:
        where.append(f"v.day < {bind(end)}")
    row = await conn.fetchrow(
        f"SELECT coalesce(max(v.version), 0), count(*) FROM tile_versions v "
        f"WHERE {' AND '.join(where)}",
        *bind.values,
    )
    return row[0], row[1]


# Per base layer its tile properties (fixed names, never a request's).
BASE_TILE_PROPERTIES = {
    "districts": ("id", "name"),
    "roads": ("id", "road_class", "name"),
    "buildings": ("id", "use", "levels"),
}


def _base_mvt(layer: str) -> str:
    names = ", ".join(f"b.{name}" for name in BASE_TILE_PROPERTIES[layer])
    return f"""
SELECT ST_AsMVT(t, '{layer}', {EXTENT}, 'geom') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(b.geom, {SRID}), {ENVELOPE},
                        {EXTENT}, {BUFFER}, true) AS geom, {names}
    FROM {layer} b
    WHERE b.geom && ST_Transform({_grown(0.02)}, 4326)
) t WHERE t.geom IS NOT NULL"""


BASE_MVT = {layer: _base_mvt(layer) for layer in BASE_TILE_PROPERTIES}


async def base_tile(conn: asyncpg.Connection, layer: str, tile: Tile) -> bytes:
    """The MVT of base `layer` (districts, roads or buildings) in `tile` (GiST-indexed)."""
    return await conn.fetchval(BASE_MVT[layer], *_tile_args(tile))
