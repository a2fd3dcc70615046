"""Adding a load's sensor hours (citytwin.aggregate.sensor_hours) to the store, and folding
the appended ones into `sensor_hours`.

A load of new days (history) COPYs them into `sensor_hours` when no row holds their keys yet.
Any other load (a live one, or one that clashes) appends them to `sensor_hour_deltas`: a COPY
into a small table, instead of one upsert per row into the large `sensor_hours` index. The
compaction (citytwin.db.compaction) folds the deltas in; readers add both tables meanwhile.
Either way a load writes about one narrow row per sensor-hour it carries.
"""

import asyncpg
import pandas as pd

from citytwin.db.copy import copy_binary, copy_if_new

TYPES = {
    "sensor_id": "int4",
    "variable_id": "int2",
    "hour": "timestamptz",
    "flagged": "bool",
    "count": "int4",
    "sum": "float8",
    "sum_sq": "float8",
    "min": "float8",
    "max": "float8",
}
# The rows of both tables, for readers: one (sensor, variable, hour, flagged) may be in several
# rows, which they add up.
ALL_HOURS = "(SELECT * FROM sensor_hours UNION ALL SELECT * FROM sensor_hour_deltas)"

# The committed deltas taken out (rows of loads still running are not visible yet), one row per
# key, and added to `sensor_hours` in key order: a load COPYing new keys meanwhile waits on the
# same rows instead of deadlocking.
FOLD_DELTAS = """
WITH taken AS (
    DELETE FROM sensor_hour_deltas RETURNING *
), merged AS (
    SELECT sensor_id, variable_id, hour, flagged, sum(count)::int AS count, sum(sum) AS sum,
           sum(sum_sq) AS sum_sq, min(min) AS min, max(max) AS max
    FROM taken GROUP BY 1, 2, 3, 4
)
INSERT INTO sensor_hours AS h SELECT * FROM merged ORDER BY 1, 2, 3, 4
ON CONFLICT (sensor_id, variable_id, hour, flagged) DO UPDATE SET
    count  = h.count + EXCLUDED.count,
    sum    = h.sum + EXCLUDED.sum,
    sum_sq = h.sum_sq + EXCLUDED.sum_sq,
    min    = least(h.min, EXCLUDED.min),
    max    = greatest(h.max, EXCLUDED.max)
"""


async def add_sensor_hours(conn: asyncpg.Connection, stats: pd.DataFrame, new_days: bool) -> None:
    """Add sensor hours (sorted by key; naive-UTC `hour`) to the stored ones: COPYed into
    `sensor_hours` if `new_days` and none of their keys is there, else appended as deltas."""
    if stats.empty:
        return
    columns = {name: stats[name].to_numpy() for name in TYPES}
    if new_days and await copy_if_new(
        conn, lambda: copy_binary(conn, "sensor_hours", columns, TYPES)
    ):
        return
    await copy_binary(conn, "sensor_hour_deltas", columns, TYPES)


async def fold_sensor_hours(conn: asyncpg.Connection) -> int:
    """Fold every committed sensor-hour delta into `sensor_hours` (in the caller's
    transaction); how many keys were added to."""
    status = await conn.execute(FOLD_DELTAS)
    return int(status.split()[-1])
