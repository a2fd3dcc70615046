"""NGSI-LD entities from the live state (one per sensor), and their readings over time."""

from datetime import datetime

import asyncpg

from citytwin.db.queries.input_errors import caller_input
from citytwin.db.queries.sql import Bind
from citytwin.query.ngsi_ld import ENTITY_ID, EntityQuery, type_table


def _from(query: EntityQuery, bind: Bind) -> str:
    held = "EXISTS (SELECT 1 FROM latest_readings x WHERE x.sensor_id = s.id)"
    where = " AND ".join([held, *query.conditions])
    types = type_table(bind)
    joins = f"sensors s JOIN feeds f ON f.name = s.feed JOIN {types} ON t.kind = f.kind"
    return f"FROM {joins} WHERE {where}"


async def entities(
    conn: asyncpg.Connection, query: EntityQuery, bind: Bind, limit: int, offset: int, count: bool
) -> tuple[list[dict], int | None]:
    """A page of entities (ordered by sensor id), each with its latest attributes; the total."""
    source = _from(query, bind)
    selected = list(bind.values)  # the count binds these; the page adds LIMIT and OFFSET
    sql = f"""
        WITH page AS (
            SELECT s.id, {ENTITY_ID} AS entity_id, t.type, coalesce(s.name, s.external_id) AS name,
                   ST_AsGeoJSON(s.geom)::json AS location
            {source} ORDER BY s.id LIMIT {bind(limit)} OFFSET {bind(offset)})
        SELECT p.*, v.name AS variable, v.unit, l.value, l.time, l.flagged
        FROM page p JOIN latest_readings l ON l.sensor_id = p.id
        JOIN variables v ON v.id = l.variable_id
        ORDER BY p.id, v.name"""
    total = None
    with caller_input("georel" if "ST_GeomFromGeoJSON" in source else "q"):
        if count:
            total = await conn.fetchval(f"SELECT count(*) {source}", *selected)
        rows = await conn.fetch(sql, *bind.values)
    grouped: dict[int, dict] = {}
    for row in rows:
        entity = grouped.setdefault(
            row["id"], {key: row[key] for key in ("id", "entity_id", "type", "name", "location")}
        )
        entity.setdefault("attributes", []).append(
            {key: row[key] for key in ("variable", "unit", "value", "time", "flagged")}
        )
    return list(grouped.values()), total


async def series(
    conn: asyncpg.Connection,
    sensor_ids: list[int],
    variables: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    most: int,
    newest: bool,
) -> list[asyncpg.Record]:
    """Readings of the sensors' series in [start, end): sensor_id, variable, variable_id,
    time, value, oldest first; at most `most` of each series, the first or the `newest`."""
    bind = Bind()
    where = [f"l.sensor_id = ANY({bind(sensor_ids)}::int4[])"]
    if variables:
        where.append(f"v.name = ANY({bind(variables)}::text[])")
    inner = ["r.sensor_id = l.sensor_id", "r.variable_id = l.variable_id"]
    if start:
        inner.append(f"r.time >= {bind(start)}")
    if end:
        inner.append(f"r.time < {bind(end)}")
    order = "DESC" if newest else "ASC"
    sql = f"""
        SELECT l.sensor_id, l.variable_id, v.name AS variable, x.time, x.value
        FROM latest_readings l JOIN variables v ON v.id = l.variable_id
        CROSS JOIN LATERAL (
            SELECT r.time, r.value FROM readings r WHERE {" AND ".join(inner)}
            ORDER BY r.time {order} LIMIT {bind(most)}) x
        WHERE {" AND ".join(where)}
        ORDER BY l.sensor_id, v.name, x.time"""
    return await conn.fetch(sql, *bind.values)


async def series_ids(
    conn: asyncpg.Connection, sensor_ids: list[int], variables: list[str] | None
) -> list[asyncpg.Record]:
    """(sensor_id, variable_id, variable) of each series of the sensors (of `variables`)."""
    return await conn.fetch(
        "SELECT l.sensor_id, l.variable_id, v.name AS variable FROM latest_readings l "
        "JOIN variables v ON v.id = l.variable_id WHERE l.sensor_id = ANY($1::int4[]) "
        "AND ($2::text[] IS NULL OR v.name = ANY($2::text[])) ORDER BY 1, 3",
        sensor_ids,
        variables,
    )


async def held_attributes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every (type, variable) pair that some entity holds a latest value of."""
    bind = Bind()
    return await conn.fetch(
        f"""SELECT DISTINCT t.type, v.name AS variable
            FROM sensors s JOIN feeds f ON f.name = s.feed
            JOIN {type_table(bind)} ON t.kind = f.kind
            JOIN latest_readings l ON l.sensor_id = s.id JOIN variables v ON v.id = l.variable_id
            ORDER BY 1, 2""",
        *bind.values,
    )
