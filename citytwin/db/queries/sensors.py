"""Sensors with their point, cell and feed."""

from dataclasses import dataclass

import asyncpg

from citytwin.db.queries.sql import Bind, cell_ranges_clause
from citytwin.query.params import Area

SENSOR_COLUMNS = """s.id, s.feed, s.external_id, s.name, s.cell, s.mobile, s.properties,
                    ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat"""


@dataclass(frozen=True)
class SensorQuery:
    feed: str | None
    area: Area
    limit: int
    after_id: int = 0
    properties: dict[str, str] | None = None  # sensors whose properties hold all of these


async def fetch_sensors(
    conn: asyncpg.Connection, query: SensorQuery, base_resolution: int
) -> list[asyncpg.Record]:
    """Up to `limit + 1` sensors in id order after `after_id`."""
    bind = Bind()
    where = [f"s.id > {bind(query.after_id)}"]
    if query.feed:
        where.append(f"s.feed = {bind(query.feed)}")
    if query.properties:
        where.append(f"s.properties @> {bind(query.properties)}::jsonb")
    if query.area.geometry is not None:
        where.append(f"ST_Intersects(s.geom, ST_GeomFromText({bind(query.area.wkt)}, 4326))")
    if query.area.cells:
        where.append(cell_ranges_clause("s.cell", query.area.cells, base_resolution, bind))
    sql = f"""SELECT {SENSOR_COLUMNS} FROM sensors s WHERE {" AND ".join(where)}
              ORDER BY s.id LIMIT {bind(query.limit + 1)}"""
    return await conn.fetch(sql, *bind.values)


async def fetch_sensor(conn: asyncpg.Connection, sensor_id: int) -> asyncpg.Record | None:
    """One sensor by id, or None."""
    return await conn.fetchrow(f"SELECT {SENSOR_COLUMNS} FROM sensors s WHERE s.id = $1", sensor_id)
