"""The twin's latest readings (now, or as of a past time) and its event log, read from PostGIS."""

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from citytwin.db.queries.sql import Bind, area_clauses
from citytwin.query.params import Area

# As of a past time the run of equal values is counted over at most this many readings.
AS_OF_READINGS = 64
COLUMNS = "sensor_id, variable_id, time, value, flagged, cell, prev_time, prev_value, run_length"


@dataclass(frozen=True)
class StateQuery:
    """Which latest readings: of a variable and feed, in an area, under some cells at a
    resolution (`within`), as of a time (None: the newest held)."""

    variable_id: int | None = None
    feed: str | None = None
    area: Area = field(default_factory=Area)
    within: tuple[int, ...] = ()
    within_resolution: int | None = None
    as_of: datetime | None = None


def _as_of_source(query: StateQuery, bind: Bind) -> str:
    """latest_readings as it was at `query.as_of`: series whose held reading is newer are
    looked up in `readings` (their newest AS_OF_READINGS readings by then)."""
    at = bind(query.as_of)
    variable = "" if query.variable_id is None else f"AND h.variable_id = {bind(query.variable_id)}"
    return f"""(
        SELECT {COLUMNS} FROM latest_readings h WHERE h.time <= {at} {variable}
        UNION ALL
        SELECT t.sensor_id, t.variable_id,
               max(t.time) FILTER (WHERE t.n = 1), max(t.value) FILTER (WHERE t.n = 1),
               bool_or(t.flagged) FILTER (WHERE t.n = 1), max(t.cell) FILTER (WHERE t.n = 1),
               max(t.time) FILTER (WHERE t.n = 2), max(t.value) FILTER (WHERE t.n = 2),
               (coalesce(min(t.n) FILTER (WHERE t.value <> t.newest), count(*) + 1) - 1)::int
        FROM (
            SELECT h.sensor_id, h.variable_id, x.time, x.value, x.flagged, x.cell,
                   row_number() OVER w AS n, first_value(x.value) OVER w AS newest
            FROM latest_readings h
            CROSS JOIN LATERAL (
                SELECT r.time, r.value, r.flagged, r.cell FROM readings r
                WHERE r.sensor_id = h.sensor_id AND r.variable_id = h.variable_id
                  AND r.time <= {at}
                ORDER BY r.time DESC LIMIT {AS_OF_READINGS}) x
            WHERE h.time > {at} {variable}
            WINDOW w AS (PARTITION BY h.sensor_id, h.variable_id ORDER BY x.time DESC)
        ) t
        GROUP BY t.sensor_id, t.variable_id)"""


async def latest_readings(
    conn: asyncpg.Connection, query: StateQuery, base_resolution: int
) -> list[asyncpg.Record]:
    """Per (sensor, variable): its sensor, the latest reading (value, flag, quality, cell), the one
    before, and the run of equal values ending with it."""
    bind = Bind()
    source = "latest_readings" if query.as_of is None else _as_of_source(query, bind)
    where = ["true"]
    if query.variable_id is not None:
        where.append(f"l.variable_id = {bind(query.variable_id)}")
    if query.feed is not None:
        where.append(f"s.feed = {bind(query.feed)}")
    where += area_clauses(query.area, "l.cell", base_resolution, bind)
    if query.within:
        resolution = query.within_resolution
        cell = (
            "l.cell" if resolution == base_resolution else f"h3_parent(l.cell, {bind(resolution)})"
        )
        where.append(f"{cell} = ANY({bind(list(query.within))}::int8[])")
    sql = f"""
        SELECT l.sensor_id, s.feed, s.external_id, s.name, ST_X(s.geom) AS lon,
               ST_Y(s.geom) AS lat, v.name AS variable, l.time, l.value, l.flagged, l.cell,
               l.prev_time, l.prev_value, l.run_length, coalesce(q.quality, 0) AS quality
        FROM {source} l
        JOIN sensors s ON s.id = l.sensor_id
        JOIN variables v ON v.id = l.variable_id
        -- the latest reading's quality code: one primary-key lookup per series
        LEFT JOIN readings q
            ON (q.sensor_id, q.variable_id, q.time) = (l.sensor_id, l.variable_id, l.time)
        WHERE {" AND ".join(where)}
        ORDER BY l.sensor_id, v.name"""
    return await conn.fetch(sql, *bind.values)


async def state_snapshot(
    conn: asyncpg.Connection, query: StateQuery, base_resolution: int
) -> tuple[list[asyncpg.Record], int]:
    """The latest readings and the newest event they include, from one snapshot (a stream
    resumed after that event misses nothing)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await latest_readings(conn, query, base_resolution)
        newest = await conn.fetchval("SELECT coalesce(max(id), 0) FROM twin_events")
    return rows, newest


async def event_bounds(conn: asyncpg.Connection) -> tuple[int, int]:
    """(oldest, newest) id of the events held; (0, 0) when there are none."""
    row = await conn.fetchrow("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM twin_events")
    return row[0], row[1]


async def events_after(conn: asyncpg.Connection, after: int, limit: int) -> list[asyncpg.Record]:
    """The held events after id `after`, oldest first: id, variable_ids, cells, faults (JSON
    text, or None for a load's cell event)."""
    return await conn.fetch(
        "SELECT id, variable_ids, cells, faults::text AS faults FROM twin_events "
        "WHERE id > $1 ORDER BY id LIMIT $2",
        after,
        limit,
    )
