"""NGSI-LD subscriptions in PostGIS, and which sensors a run of twin events changed."""

import asyncpg


async def create(conn: asyncpg.Connection, identifier: str, body: dict, endpoint: str) -> None:
    await conn.execute(
        "INSERT INTO subscriptions (id, body, endpoint) VALUES ($1, $2, $3)",
        identifier,
        body,
        endpoint,
    )


async def listed(conn: asyncpg.Connection, identifier: str | None = None) -> list[asyncpg.Record]:
    """Every subscription (or the one `identifier`), oldest first."""
    return await conn.fetch(
        "SELECT * FROM subscriptions WHERE $1::text IS NULL OR id = $1 ORDER BY created, id",
        identifier,
    )


async def delete(conn: asyncpg.Connection, identifier: str) -> bool:
    return await conn.fetchval("DELETE FROM subscriptions WHERE id = $1 RETURNING true", identifier)


async def active(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, body, endpoint FROM subscriptions WHERE status = 'active'")


async def record_delivery(
    conn: asyncpg.Connection, identifier: str, delivered: bool, dead_after: int
) -> None:
    """Count a delivery or a failure; `dead_after` failures in a row mark it failed."""
    if delivered:
        await conn.execute(
            "UPDATE subscriptions SET failures = 0, sent = sent + 1, last_success = now() "
            "WHERE id = $1",
            identifier,
        )
        return
    await conn.execute(
        "UPDATE subscriptions SET failures = failures + 1, last_failure = now(), "
        "status = CASE WHEN failures + 1 >= $2 THEN 'failed' ELSE status END WHERE id = $1",
        identifier,
        dead_after,
    )


async def changed_sensors(conn: asyncpg.Connection, after: int, upto: int) -> list[int]:
    """Sensors whose latest readings lie in the (variable, cell) pairs of events in
    (after, upto]: a load's changes, seen as the twin sees them."""
    rows = await conn.fetch(
        """SELECT DISTINCT l.sensor_id
           FROM twin_events e
           CROSS JOIN LATERAL unnest(e.variable_ids, e.cells) AS c (variable_id, cell)
           JOIN latest_readings l ON l.variable_id = c.variable_id AND l.cell = c.cell
           WHERE e.id > $1 AND e.id <= $2""",
        after,
        upto,
    )
    return [row[0] for row in rows]
