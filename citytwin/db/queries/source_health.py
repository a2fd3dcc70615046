"""The sources' health as their listeners write it, and as `/twin/state` reads it."""

import asyncpg

WRITE = """
INSERT INTO source_health (name, kind, health, updated)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[])
ON CONFLICT (name) DO UPDATE SET
    kind = EXCLUDED.kind, health = EXCLUDED.health, updated = EXCLUDED.updated
"""

READ = "SELECT name, kind, health, updated FROM source_health ORDER BY name"


async def write_source_health(conn: asyncpg.Connection, sources: list[dict]) -> None:
    """Upsert each source's health (dicts of name, kind, health, updated)."""
    await conn.execute(
        WRITE,
        [s["name"] for s in sources],
        [s["kind"] for s in sources],
        [s["health"] for s in sources],  # the connections' orjson codec encodes them
        [s["updated"] for s in sources],
    )


async def source_health(conn: asyncpg.Connection) -> list[dict]:
    """Every source's last written health, by name."""
    rows = await conn.fetch(READ)
    return [
        {"name": r["name"], "kind": r["kind"], "updated": r["updated"], **r["health"]} for r in rows
    ]
