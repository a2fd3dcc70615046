"""Raw readings with keyset pagination in primary-key order (sensor, variable, time)."""

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from citytwin.db.queries.sql import Bind, cell_ranges_clause
from citytwin.query.params import Area, TimeRange


@dataclass(frozen=True)
class ReadingCursor:
    """The key of the last reading of a page; the next page starts after it."""

    sensor_id: int
    variable_id: int
    time: datetime


@dataclass(frozen=True)
class ReadingQuery:
    sensor_ids: tuple[int, ...]
    variable_id: int | None
    area: Area
    time: TimeRange
    limit: int
    after: ReadingCursor | None = None
    quality: int | None = None  # None: all; 0: no fault; a mask: readings holding any of it


async def fetch_readings(
    conn: asyncpg.Connection, query: ReadingQuery, base_resolution: int
) -> list[asyncpg.Record]:
    """Up to `limit + 1` readings (the extra one tells whether a next page exists)."""
    bind = Bind()
    where = []
    if query.sensor_ids:
        where.append(f"r.sensor_id = ANY({bind(list(query.sensor_ids))}::int[])")
    if query.variable_id is not None:
        where.append(f"r.variable_id = {bind(query.variable_id)}")
    if query.time.start:
        where.append(f"r.time >= {bind(query.time.start)}")
    if query.time.end:
        where.append(f"r.time < {bind(query.time.end)}")
    if query.quality == 0:
        where.append("r.quality = 0")
    elif query.quality is not None:
        where.append(f"r.quality & {bind(query.quality)}::int2 <> 0")
    if query.area.geometry is not None:
        where.append(
            f"ST_Intersects(coalesce(r.geom, s.geom), "
            f"ST_GeomFromText({bind(query.area.wkt)}, 4326))"
        )
    if query.area.cells:
        where.append(cell_ranges_clause("r.cell", query.area.cells, base_resolution, bind))
    if query.after:
        where.append(
            f"(r.sensor_id, r.variable_id, r.time) > ({bind(query.after.sensor_id)}, "
            f"{bind(query.after.variable_id)}, {bind(query.after.time)})"
        )
    sql = f"""
        SELECT r.sensor_id, r.variable_id, s.feed, s.external_id, v.name AS variable, v.unit,
               r.time, r.value, r.flagged, r.quality, r.cell,
               ST_X(coalesce(r.geom, s.geom)) AS lon, ST_Y(coalesce(r.geom, s.geom)) AS lat
        FROM readings r
        JOIN sensors s ON s.id = r.sensor_id
        JOIN variables v ON v.id = r.variable_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY r.sensor_id, r.variable_id, r.time
        LIMIT {bind(query.limit + 1)}"""
    return await conn.fetch(sql, *bind.values)
