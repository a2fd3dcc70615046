"""Keeping `latest_readings` current inside a load's transaction, and announcing what changed.

The load's per-series summary (citytwin.twin.latest) is COPYed into a temporary table and merged
in one statement: a series whose loaded readings are all newer than the held one extends it in
place, by one UPDATE joined to the summary (run lengths add up when the value carries on): the
live case, which reads nothing else; a series that got readings at or before its
held time, or whose pieces interleaved, is recomputed from `readings` (its newest two readings
and the run back to the last different value, by index). A reading never replaces a newer one.
The (variable, cell) pairs whose state changed become one `twin_events` row, announced with
pg_notify when the load commits; the merge, the event and its announcement are one statement.
"""

import asyncpg
import numpy as np
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
    "mobile": "bool",  # the sensor is mobile: its held cell may not be the loaded one
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
WITH extended AS (
    -- The live case: series whose loaded readings are all newer than the held one, extended
    -- in place through one join (SET reads the held row), no upsert and no CTE of the held rows.
    UPDATE latest_readings l SET
        time = d.time, value = d.value, flagged = d.flagged, cell = d.cell,
        prev_time = CASE WHEN d.count > 1 THEN d.prev_time ELSE l.time END,
        prev_value = CASE WHEN d.count > 1 THEN d.prev_value ELSE l.value END,
        run_length = d.run_length + CASE WHEN d.run_length = d.count AND d.value = l.value
                                         THEN l.run_length ELSE 0 END
    FROM latest_delta d
    WHERE l.sensor_id = d.sensor_id AND l.variable_id = d.variable_id
      AND d.exact AND d.first_time > l.time
    RETURNING l.sensor_id, l.variable_id, l.cell
), rest AS (
    -- The others (none in a live load): new series, and those to recompute (a held one at or
    -- after the loaded readings, or pieces that interleaved).
    SELECT d.*, NOT d.exact OR EXISTS (
               SELECT 1 FROM latest_readings l
               WHERE l.sensor_id = d.sensor_id AND l.variable_id = d.variable_id) AS recompute
    FROM latest_delta d
    WHERE NOT EXISTS (
        SELECT 1 FROM extended e WHERE e.sensor_id = d.sensor_id AND e.variable_id = d.variable_id)
), recomputed AS (
    SELECT h.sensor_id, h.variable_id, t.time, t.value, t.flagged, t.cell,
           p.time AS prev_time, p.value AS prev_value, r.run_length
    FROM rest h
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
    WHERE h.recompute
), inserted AS (
    -- New series, and those recomputed (disjoint from the extended ones).
    INSERT INTO latest_readings AS l (sensor_id, variable_id, {_state()})
    SELECT sensor_id, variable_id, time, value, flagged, cell,
           CASE WHEN count > 1 THEN prev_time END, CASE WHEN count > 1 THEN prev_value END,
           run_length
    FROM rest WHERE NOT recompute
    UNION ALL SELECT * FROM recomputed
    ON CONFLICT (sensor_id, variable_id) DO UPDATE SET ({_state()}) = ({_state("EXCLUDED.")})
    WHERE ({_state("l.")}) IS DISTINCT FROM ({_state("EXCLUDED.")})
    RETURNING l.sensor_id, l.variable_id, l.cell
), written AS (
    SELECT * FROM extended UNION ALL SELECT * FROM inserted
), changed AS (
    SELECT variable_id, cell FROM written
    UNION ALL
    -- A mobile sensor that moved changed its old cell too: the held cell (this statement reads
    -- the rows as they were before it) where it is not the written one.
    -- Series of mobile sensors only (none in a live load of fixed sensors), each looked up
    -- by index (LIMIT keeps the lookup a nested loop).
    SELECT w.variable_id, h.cell
    FROM latest_delta d
    JOIN written w ON w.sensor_id = d.sensor_id AND w.variable_id = d.variable_id
    CROSS JOIN LATERAL (
        SELECT cell FROM latest_readings h
        WHERE h.sensor_id = d.sensor_id AND h.variable_id = d.variable_id LIMIT 1) h
    WHERE d.mobile AND h.cell <> w.cell
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


async def update_latest(
    conn: asyncpg.Connection, summary: pd.DataFrame, mobile: np.ndarray
) -> int | None:
    """Merge a load's per-series `summary` into `latest_readings`; record and announce the
    changed (variable, cell) pairs as a twin event, in the same statement. `mobile`: the ids of
    the mobile sensors among them (their held cells are looked up). Its id, or None if nothing
    changed."""
    if summary.empty:
        return None
    await conn.execute(CREATE_DELTA)
    columns = {name: summary[name].to_numpy() for name in DELTA_TYPES if name in summary}
    columns["mobile"] = np.isin(columns["sensor_id"], mobile)
    await copy_binary(conn, "latest_delta", columns, DELTA_TYPES)
    return await conn.fetchval(MERGE)
