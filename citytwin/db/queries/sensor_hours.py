"""Hourly aggregates of sensors' own readings, from `sensor_hours` (migration 012): what
per-sensor temporal aggregates and the quality stage's history read instead of raw readings."""

from datetime import datetime

import asyncpg

# Flagged and unflagged readings of an hour are rows of their own: summed here, or the flagged
# ones left out as the cell rollups leave them out.
SENSOR_HOURS = """
SELECT h.sensor_id, h.hour, sum(h.count)::bigint AS count, sum(h.sum) AS sum,
       sum(h.sum_sq) AS sum_sq, min(h.min) AS min, max(h.max) AS max
FROM sensor_hours h
WHERE h.sensor_id = ANY($1::int4[])
  AND h.variable_id = (SELECT id FROM variables WHERE name = $2)
  AND h.hour >= $3 AND h.hour < $4 AND (NOT h.flagged OR $5)
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def sensor_hours(
    conn: asyncpg.Connection,
    sensor_ids: list[int],
    variable: str,
    start: datetime,
    end: datetime,
    include_flagged: bool = False,
) -> list[asyncpg.Record]:
    """Per sensor (id) and UTC hour in [start, end) with readings of `variable`: count, sum,
    sum_sq, min, max (by sensor, then hour); flagged readings only if `include_flagged`.
    Mean and standard deviation follow: sum / count, sqrt(sum_sq / count - mean²)."""
    return await conn.fetch(SENSOR_HOURS, sensor_ids, variable, start, end, include_flagged)
