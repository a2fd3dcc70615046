"""Keeping `latest_readings` current inside a load's transaction, and announcing what changed.

The load's per-series summary (citytwin.twin.latest) is COPYed into a temporary table and merged
in one statement: a series whose loaded readings are all newer than the held one extends it
(run lengths add up when the value carries on); a series that got readings at or before its
held time, or whose pieces interleaved, is recomputed from `readings` (its newest two readings
and the run back to the last different value, by index). A reading never replaces a newer one.
The (variable, cell) pairs whose state changed become one `twin_events` row, announced with
pg_notify when the load commits; the merge, the event and its announcement are one statement.
"""

import asyncpg
import pandas as pd

from citytwin.db.copy import copy_binary

CHANNEL = "citytwin_twin"
EVENTS_KEPT = "1 hour"

DELTA_TYPES = {
    "sensor_id": "int4",
    "variable_id": "int2",
    "first_time": "timestamptz",
    "time": "timestamptz",
    "value": "float8",
    "flagged": "bool",
    "cell": "int8",
    "prev_time": "timestamptz",
    "prev_value": "float8",
    "run_length": "int4",
    "count": "int4",
    "exact": "bool",
}
CREATE_DELTA = f"""
CREATE TEMP TABLE IF NOT EXISTS latest_delta (
    {", ".join(f"{name} {pg_type}" for name, pg_type in DELTA_TYPES.items())}
) ON COMMIT DELETE ROWS"""

# A readings lookup of one series, newest first.
SERIES = "x.sensor_id = h.sensor_id AND x.variable_id = h.variable_id"
# A series' state, as it is written and compared.
STATE = ["time", "value", "flagged", "cell", "prev_time", "prev_value", "run_length"]


def _state(alias: str = "") -> str:
    return ", ".join(f"{alias}{column}" for column in STATE)


MERGE = f"""
WITH held AS (
    SELECT d.*, l.time AS held_time, l.value AS held_value, l.run_length AS held_run,
           l.cell AS held_cell,
           d.exact AND (l.time IS NULL OR d.first_time > l.time) AS newer
    FROM latest_delta d LEFT JOIN latest_readings l USING (sensor_id, variable_id)
), extended AS (
    SELECT sensor_id, variable_id, time, value, flagged, cell,
           CASE WHEN count > 1 THEN prev_time ELSE held_time END AS prev_time,
           CASE WHEN count > 1 THEN prev_value ELSE held_value END AS prev_value,
           run_length + CASE WHEN run_length = count AND value = held_value
                             THEN held_run ELSE 0 END AS run_length,
           held_time IS NOT NULL AS held
    FROM held WHERE newer
), recomputed AS (
    SELECT h.sensor_id, h.variable_id, t.time, t.value, t.flagged, t.cell,
           p.time AS prev_time, p.value AS prev_value, r.run_length
    FROM held h
    CROSS JOIN LATERAL (
        SELECT x.time, x.value, x.flagged, x.cell FROM readings x WHERE {SERIES}
        ORDER BY x.time DESC LIMIT 1) t
    LEFT JOIN LATERAL (
        SELECT x.time, x.value FROM readings x WHERE {SERIES} AND x.time < t.time
        ORDER BY x.time DESC LIMIT 1) p ON true
    LEFT JOIN LATERAL (
        SELECT x.time FROM readings x WHERE {SERIES} AND x.value <> t.value
        ORDER BY x.time DESC LIMIT 1) differs ON true
    CROSS JOIN LATERAL (
        SELECT count(*)::int AS run_length FROM readings x
        WHERE {SERIES} AND x.time > coalesce(differs.time, '-infinity')) r
    WHERE NOT h.newer
), updated AS (
    -- The live case, extended series: updated through one hash join, no upsert per row.
    UPDATE latest_readings l SET ({_state()}) = ({_state("e.")})
    FROM extended e
    WHERE e.held AND l.sensor_id = e.sensor_id AND l.variable_id = e.variable_id
      AND ({_state("l.")}) IS DISTINCT FROM ({_state("e.")})
    RETURNING l.sensor_id, l.variable_id, l.cell
), inserted AS (
    -- New series, and those recomputed (disjoint from the updated ones).
    INSERT INTO latest_readings AS l (sensor_id, variable_id, {_state()})
    SELECT sensor_id, variable_id, {_state()} FROM extended WHERE NOT held
    UNION ALL SELECT * FROM recomputed
    ON CONFLICT (sensor_id, variable_id) DO UPDATE SET ({_state()}) = ({_state("EXCLUDED.")})
    WHERE ({_state("l.")}) IS DISTINCT FROM ({_state("EXCLUDED.")})
    RETURNING l.sensor_id, l.variable_id, l.cell
), written AS (
    SELECT * FROM updated UNION ALL SELECT * FROM inserted
), changed AS (
    SELECT variable_id, cell FROM written
    UNION ALL
    -- A mobile sensor that moved changed its old cell too (an extended series moved if its
    -- loaded cell is not the held one).
    SELECT w.variable_id, h.held_cell
    FROM held h JOIN written w USING (sensor_id, variable_id)
    WHERE (NOT h.newer OR h.held_cell <> h.cell) AND h.held_cell <> w.cell
), event AS (
    INSERT INTO twin_events (variable_ids, cells)
    SELECT array_agg(variable_id), array_agg(cell)
    FROM (SELECT DISTINCT variable_id, cell FROM changed ORDER BY 1, 2) c
    HAVING count(*) > 0
    RETURNING id
), pruned AS (
    DELETE FROM twin_events WHERE created < now() - interval '{EVENTS_KEPT}'
)
SELECT id, pg_notify('{CHANNEL}', id::text) FROM event
"""


async def update_latest(conn: asyncpg.Connection, summary: pd.DataFrame) -> int | None:
    """Merge a load's per-series `summary` into `latest_readings`; record and announce the
    changed (variable, cell) pairs as a twin event, in the same statement. Its id, or None if
    nothing changed."""
    if summary.empty:
        return None
    await conn.execute(CREATE_DELTA)
    columns = {name: summary[name].to_numpy() for name in DELTA_TYPES}
    await copy_binary(conn, "latest_delta", columns, DELTA_TYPES)
    return await conn.fetchval(MERGE)
