"""Per-period aggregates of sensor series from the cell rollups, exact per series.

A rollup row sums a base cell. It is a sensor's own series when nothing else in that cell
reports the variable: no other sensor registered in it, no mobile sensor passing through in the
time range. Those series are answered from the rollup slots; the others from their readings
(the primary key's range), so an answer is never mixed with a neighbour's. Flagged readings
are left out, as in the rollups.
"""

from datetime import timedelta

import asyncpg

from citytwin.query.series import SeriesAggregates

ORIGIN = "2000-01-03 00:00:00+00"  # a Monday, as the cell buckets

SQL = f"""
WITH series AS (
    SELECT k.sensor_id, k.variable_id, s.cell,
           NOT s.mobile
           AND NOT EXISTS (SELECT 1 FROM sensors o WHERE o.cell = s.cell AND o.id <> s.id)
           AND NOT EXISTS (
               SELECT 1 FROM sensors o JOIN readings x ON x.sensor_id = o.id
               WHERE o.mobile AND x.variable_id = k.variable_id AND x.cell = s.cell
                 AND x.time >= $3 AND x.time < $4) AS alone
    FROM unnest($1::int4[], $2::int2[]) AS k (sensor_id, variable_id)
    JOIN sensors s ON s.id = k.sensor_id
), parts AS (
    SELECT se.sensor_id, se.variable_id, d.day + (sl.i - 1) * $5::interval AS t,
           sl.count, sl.sum, sl.min, sl.max
    FROM series se
    JOIN cell_rollups d ON d.variable_id = se.variable_id AND d.cell = se.cell
         AND d.day > $3::timestamptz - interval '1 day' AND d.day < $4
    CROSS JOIN LATERAL unnest(d.slot_count, d.slot_sum, d.slot_min, d.slot_max)
         WITH ORDINALITY AS sl (count, sum, min, max, i)
    WHERE se.alone AND sl.count > 0
      AND d.day + (sl.i - 1) * $5::interval >= $3 AND d.day + (sl.i - 1) * $5::interval < $4
    UNION ALL
    -- The slots loads appended and no compaction folded in yet.
    SELECT se.sensor_id, se.variable_id, d.day + d.slot * $5::interval AS t,
           d.count, d.sum, d.min, d.max
    FROM series se
    JOIN cell_rollup_deltas d ON d.variable_id = se.variable_id AND d.cell = se.cell
         AND d.day > $3::timestamptz - interval '1 day' AND d.day < $4
    WHERE se.alone
      AND d.day + d.slot * $5::interval >= $3 AND d.day + d.slot * $5::interval < $4
    UNION ALL
    -- LATERAL fenced by OFFSET 0 (else the planner flattens it into a hash join over the whole
    -- range): each shared series read through the primary key.
    SELECT se.sensor_id, se.variable_id, r.time, 1, r.value, r.value, r.value
    FROM series se
    CROSS JOIN LATERAL (
        SELECT x.time, x.value FROM readings x
        WHERE x.sensor_id = se.sensor_id AND x.variable_id = se.variable_id
          AND x.time >= $3 AND x.time < $4 AND NOT x.flagged OFFSET 0) r
    WHERE NOT se.alone
)
SELECT p.sensor_id, p.variable_id, date_bin($6::interval, p.t, '{ORIGIN}') AS start,
       -- in seconds: a day added in a zone with summer time may last 23 or 25 hours
       date_bin($6::interval, p.t, '{ORIGIN}') + extract(epoch FROM $6::interval)
           * interval '1 second' AS "end",
       sum(p.count)::bigint AS count, sum(p.sum) AS sum, sum(p.sum) / sum(p.count) AS avg,
       min(p.min) AS min, max(p.max) AS max, bool_and(se.alone) AS from_rollups
FROM parts p JOIN series se USING (sensor_id, variable_id)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


async def series_aggregates(
    conn: asyncpg.Connection, query: SeriesAggregates, bucket_seconds: int
) -> list[asyncpg.Record]:
    """Per series and period with data: start, end, count, sum, avg, min, max, from_rollups."""
    sensors = [sensor for sensor, _ in query.series]
    variables = [variable for _, variable in query.series]
    return await conn.fetch(
        SQL,
        sensors,
        variables,
        query.start,
        query.end,
        timedelta(seconds=bucket_seconds),
        query.period,
    )
