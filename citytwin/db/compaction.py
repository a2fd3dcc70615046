"""Folding the per-slot rollups that loads append (`cell_rollup_deltas`) into the day rows of
`cell_rollups`, and their sensor hours (`sensor_hour_deltas`) into `sensor_hours`, in
transactions of their own: loads never wait for it, and readers see the rows either before or
after (they add both tables, so the sums are the same).

The merge of slot arrays is the costly part of rollups (a per-element function per day row);
done here, it costs once per day row however many loads touched it since the last compaction.
"""

import asyncpg
import pyarrow as pa

from citytwin.aggregate.rollups import days_from_slots, merge_slot_stats
from citytwin.db.copy import copy_out_frame, copy_rollups
from citytwin.db.rollup_months import build_months
from citytwin.db.sensor_hours import fold_sensor_hours

COMPACTION_LOCK = 7_402_119  # one compaction at a time (a second one finds nothing to do)
BATCH_ROWS = 500_000  # delta rows taken per round: bounds the memory of a large backlog

MERGE_ROLLUPS = """
INSERT INTO cell_rollups AS r SELECT * FROM rollup_compacted
ON CONFLICT (variable_id, day, cell) DO UPDATE SET
    count       = r.count + EXCLUDED.count,
    sum         = r.sum + EXCLUDED.sum,
    sum_sq      = r.sum_sq + EXCLUDED.sum_sq,
    min         = least(r.min, EXCLUDED.min),
    max         = greatest(r.max, EXCLUDED.max),
    slot_count  = slots_add(r.slot_count, EXCLUDED.slot_count),
    slot_sum    = slots_add(r.slot_sum, EXCLUDED.slot_sum),
    slot_sum_sq = slots_add(r.slot_sum_sq, EXCLUDED.slot_sum_sq),
    slot_min    = slots_least(r.slot_min, EXCLUDED.slot_min),
    slot_max    = slots_greatest(r.slot_max, EXCLUDED.slot_max)
"""

# A batch of committed deltas, taken out (rows of loads still running are not visible yet), in
# no order: their sums commute.
TAKE_DELTAS = f"""
DELETE FROM cell_rollup_deltas
WHERE ctid = ANY (ARRAY(SELECT ctid FROM cell_rollup_deltas LIMIT {BATCH_ROWS}))
RETURNING variable_id, day AT TIME ZONE 'UTC' AS day, cell, slot, count, sum, sum_sq, min, max
"""
TAKEN_SCHEMA = pa.schema(
    {
        "variable_id": pa.int16(),
        "day": pa.timestamp("us"),
        "cell": pa.int64(),
        "slot": pa.int16(),
        "count": pa.int32(),
        "sum": pa.float64(),
        "sum_sq": pa.float64(),
        "min": pa.float64(),
        "max": pa.float64(),
    }
)


async def _compact_batch(conn: asyncpg.Connection, bucket_seconds: int) -> int:
    taken = await copy_out_frame(conn, TAKE_DELTAS, schema=TAKEN_SCHEMA)
    if taken.empty:
        return 0
    stats = merge_slot_stats([taken])
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS rollup_compacted (LIKE cell_rollups) ON COMMIT DELETE ROWS"
    )
    await copy_rollups(conn, "rollup_compacted", days_from_slots(stats, bucket_seconds))
    await conn.execute(MERGE_ROLLUPS)
    return len(taken)


async def compact_rollups(conn: asyncpg.Connection, bucket_seconds: int) -> int:
    """Fold every committed delta into `cell_rollups`, a batch per transaction, and the sensor
    hours' into `sensor_hours`, then build the month totals due (citytwin.db.rollup_months);
    how many rollup delta rows were folded (0 at once if another compaction is running)."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", COMPACTION_LOCK):
            return 0
        await fold_sensor_hours(conn)
    folded = 0
    while True:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", COMPACTION_LOCK):
                return folded
            await conn.execute("SET LOCAL TIME ZONE 'UTC'")
            done = await _compact_batch(conn, bucket_seconds)
        folded += done
        if done < BATCH_ROWS:
            await build_months(conn)
            return folded
