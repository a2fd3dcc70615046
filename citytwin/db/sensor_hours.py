"""Adding a load's sensor hours (citytwin.aggregate.sensor_hours) to `sensor_hours`.

They are COPYed when no row holds their keys yet (a load of history, the first live load of
an hour); else (the key clashes) added by one upsert in key order, so that loads adding to the
same hours wait for each other's row locks instead of deadlocking. Either way a load writes
about one narrow row per sensor-hour it carries.
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

ADD_HOURS = """
INSERT INTO sensor_hours AS h
SELECT * FROM unnest($1::int4[], $2::int2[], $3::timestamptz[], $4::bool[], $5::int4[],
                     $6::float8[], $7::float8[], $8::float8[], $9::float8[])
    AS s (sensor_id, variable_id, hour, flagged, count, sum, sum_sq, min, max)
ON CONFLICT (sensor_id, variable_id, hour, flagged) DO UPDATE SET
    count  = h.count + EXCLUDED.count,
    sum    = h.sum + EXCLUDED.sum,
    sum_sq = h.sum_sq + EXCLUDED.sum_sq,
    min    = least(h.min, EXCLUDED.min),
    max    = greatest(h.max, EXCLUDED.max)
"""


async def add_sensor_hours(conn: asyncpg.Connection, stats: pd.DataFrame) -> None:
    """Add sensor hours (sorted by key; naive-UTC `hour`) to the stored ones."""
    if stats.empty:
        return
    hours = stats["hour"].dt.tz_localize("UTC")
    columns = {name: stats[name].to_numpy() for name in TYPES}
    # Rows in key order: a live load into an hour an earlier load wrote clashes at its first row.
    if await copy_if_new(conn, lambda: copy_binary(conn, "sensor_hours", columns, TYPES)):
        return
    await conn.execute(
        ADD_HOURS,
        *(stats[name].tolist() for name in ("sensor_id", "variable_id")),
        hours.dt.to_pydatetime().tolist(),
        *(stats[name].tolist() for name in ("flagged", "count", "sum", "sum_sq", "min", "max")),
    )
