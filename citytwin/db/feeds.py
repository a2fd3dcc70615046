"""Feed definitions and variables as rows, so SQL can join and the API can list them."""

import asyncpg

from citytwin.feeds import FeedRegistry


async def sync_feeds(conn: asyncpg.Connection, registry: FeedRegistry) -> None:
    """Upsert every feed and its variables from the registry."""
    async with conn.transaction():
        for feed in registry.values():
            await conn.execute(
                """INSERT INTO feeds (name, kind, definition) VALUES ($1, $2, $3)
                   ON CONFLICT (name) DO UPDATE
                   SET kind = EXCLUDED.kind, definition = EXCLUDED.definition, updated_at = now()
                   WHERE feeds.definition IS DISTINCT FROM EXCLUDED.definition""",
                feed.name,
                feed.kind,
                feed.model_dump(mode="json"),
            )
            for name, spec in feed.variables.items():
                await conn.execute(
                    """INSERT INTO variables (name, unit) VALUES ($1, $2)
                       ON CONFLICT (name) DO UPDATE SET unit = EXCLUDED.unit""",
                    name,
                    spec.unit,
                )


async def variable_ids(conn: asyncpg.Connection) -> dict[str, int]:
    """Variable name → id."""
    return dict(await conn.fetch("SELECT name, id FROM variables"))


async def variable_spans(conn: asyncpg.Connection) -> dict[str, tuple[object, object]]:
    """Variable name → (first, last) UTC day holding readings: index probes of the rollups."""
    rows = await conn.fetch(
        """SELECT v.name, min(x.first) AS first, max(x.last) AS last
           FROM variables v CROSS JOIN LATERAL (
               SELECT min(day) AS first, max(day) AS last FROM cell_rollups
               WHERE variable_id = v.id
               UNION ALL
               SELECT min(day), max(day) FROM cell_rollup_deltas WHERE variable_id = v.id) x
           GROUP BY v.name HAVING min(x.first) IS NOT NULL"""
    )
    return {row["name"]: (row["first"], row["last"]) for row in rows}
