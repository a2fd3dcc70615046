"""Applying a retention plan: readings partitions dropped, rollups (cell rollups and sensor
hours) beyond policy deleted.

It takes the load lock, so no load writes while partitions go; tile versions of the deleted
rollups are bumped so that tiles of those days change their ETags.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import asyncpg

from citytwin.db.latest import CHANNEL
from citytwin.db.locks import LOAD_LOCK
from citytwin.feeds.definition import FeedDefinition
from citytwin.tiles.versions import VERSION_RESOLUTION
from citytwin.twin.retention import Partition, RetentionPlan, describe_plan, plan_retention

# Monthly partitions are made by ensure_readings_partitions(); their bounds come back as text.
PARTITIONS = """
SELECT c.relname AS name, b.bounds[1]::timestamptz AS start, b.bounds[2]::timestamptz AS "end"
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS b (bounds)
WHERE i.inhparent = 'readings'::regclass
ORDER BY 2
"""

# Rollup rows are counted as keys (variable, UTC day, cell), in day rows or deltas alike.
DELETE_ROLLUPS = """
WITH gone AS (
    DELETE FROM cell_rollups r
    USING variables v
    WHERE v.id = r.variable_id AND v.name = $1 AND r.day < $2
    RETURNING r.variable_id, r.day, r.cell
), gone_deltas AS (
    DELETE FROM cell_rollup_deltas r
    USING variables v
    WHERE v.id = r.variable_id AND v.name = $1 AND r.day < $2
    RETURNING r.variable_id, r.day, r.cell
), keys AS (
    SELECT * FROM gone UNION SELECT * FROM gone_deltas
), bumped AS (
    INSERT INTO tile_versions (variable_id, day, cell, version)
    SELECT k.variable_id, k.day, k.cell, nextval('tile_version_seq')
    FROM (SELECT DISTINCT variable_id, day, h3_parent(cell, $3) AS cell FROM keys) k
    ON CONFLICT (variable_id, day, cell) DO UPDATE SET version = EXCLUDED.version
)
SELECT count(*) FROM keys
"""

DELETE_SENSOR_HOURS = [
    f"DELETE FROM {table} h USING variables v "
    "WHERE v.id = h.variable_id AND v.name = $1 AND h.hour < $2"
    for table in ("sensor_hours", "sensor_hour_deltas")
]

DELETE_MONTHS = [
    f"DELETE FROM {table} m USING variables v "
    "WHERE v.id = m.variable_id AND v.name = $1 AND m.month < $2"
    for table in ("cell_rollup_months_built", "cell_rollup_months")
]


@dataclass(frozen=True)
class RetentionStore:
    """What retention looks at: partitions, the feeds with sensors, the stored variables."""

    partitions: list[Partition]
    feeds_with_data: list[str]
    variables: list[str]


async def retention_store(conn: asyncpg.Connection) -> RetentionStore:
    """The partitions of `readings`, the feeds with sensors and the variables with rollups."""
    partitions = [Partition(**dict(row)) for row in await conn.fetch(PARTITIONS)]
    feeds = await conn.fetch("SELECT DISTINCT feed FROM sensors ORDER BY 1")
    variables = await conn.fetch(
        "SELECT v.name FROM variables v "
        "WHERE EXISTS (SELECT 1 FROM cell_rollups r WHERE r.variable_id = v.id) "
        "OR EXISTS (SELECT 1 FROM cell_rollup_deltas r WHERE r.variable_id = v.id) ORDER BY 1"
    )
    return RetentionStore(partitions, [r["feed"] for r in feeds], [r["name"] for r in variables])


async def rollups_to_delete(conn: asyncpg.Connection, plan: RetentionPlan) -> dict[str, int]:
    """Per variable of the plan, how many rollup rows (UTC days × cells) it would delete."""
    counts = {}
    for variable, before in plan.rollups_before.items():
        counts[variable] = await conn.fetchval(
            "SELECT count(*) FROM (SELECT day, cell FROM cell_rollups r WHERE r.variable_id = "
            "(SELECT id FROM variables WHERE name = $1) AND r.day < $2 UNION "
            "SELECT day, cell FROM cell_rollup_deltas r WHERE r.variable_id = "
            "(SELECT id FROM variables WHERE name = $1) AND r.day < $2) k",
            variable,
            before,
        )
    return counts


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def partition_readings(conn: asyncpg.Connection, plan: RetentionPlan) -> dict[str, int]:
    """Per partition of the plan, how many readings it holds (what dropping it loses)."""
    return {
        p.name: await conn.fetchval(f"SELECT count(*) FROM {_quoted(p.name)}")
        for p in plan.partitions
    }


async def apply_plan(conn: asyncpg.Connection, plan: RetentionPlan) -> dict[str, int]:
    """Drop the plan's partitions and delete its rollups, in one transaction; per variable the
    rollup rows deleted."""
    deleted = {}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOAD_LOCK)
        for partition in plan.partitions:
            await conn.execute(f"DROP TABLE IF EXISTS {_quoted(partition.name)}")
        horizon: datetime | None = plan.readings_horizon
        if horizon is not None:
            # The latest state of a series whose readings are all gone goes with them.
            await conn.execute("DELETE FROM latest_readings WHERE time < $1", horizon)
        for variable, before in plan.rollups_before.items():
            deleted[variable] = await conn.fetchval(
                DELETE_ROLLUPS, variable, before, VERSION_RESOLUTION
            )
            # Sensor hours and month totals are rollups too: they go with the cell rollups of
            # their variable (a month the cutoff splits is built again from its days left).
            for statement in (*DELETE_SENSOR_HOURS, *DELETE_MONTHS):
                await conn.execute(statement, variable, before)
        # Tile versions changed: servers holding versions in memory must forget them (the
        # newest event id is announced again; the stream's subscribers find nothing new).
        await conn.execute(
            "SELECT pg_notify($1, (SELECT coalesce(max(id), 0) FROM twin_events)::text)", CHANNEL
        )
    return deleted


@dataclass(frozen=True)
class RetentionRun:
    """What one application of the policies did (or would do, on a dry run): the plan, rollup
    rows deleted per variable, the variables stored and the readings of each dropped partition."""

    plan: RetentionPlan
    rows: dict[str, int]
    variables: list[str]
    readings: dict[str, int] = field(default_factory=dict)
    done: bool = False

    @property
    def drops_anything(self) -> bool:
        return bool(self.plan.partitions) or any(self.rows.values())

    def lines(self) -> list[str]:
        """What is kept, and what went (or would go), line by line."""
        return describe_plan(self.plan, self.readings, self.rows, self.variables, self.done)


async def apply_retention(
    conn: asyncpg.Connection, feeds: Mapping[str, FeedDefinition], now: datetime, dry_run: bool
) -> RetentionRun:
    """Plan the feeds' policies at `now` over the store and apply them (unless `dry_run`)."""
    store = await retention_store(conn)
    plan = plan_retention(store.partitions, feeds, store.feeds_with_data, store.variables, now)
    readings = await partition_readings(conn, plan)
    run = RetentionRun(plan, await rollups_to_delete(conn, plan), store.variables, readings)
    return run if dry_run else await carry_out(conn, run)


async def carry_out(conn: asyncpg.Connection, run: RetentionRun) -> RetentionRun:
    """Apply a run planned (and shown) before: its partitions and rollups go."""
    return replace(run, rows=await apply_plan(conn, run.plan), done=True)
