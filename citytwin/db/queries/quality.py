"""What the quality stage reads: stored hourly sums of a feed's variable (sensor hours), and a
sensor's health from its readings' quality codes."""

from datetime import datetime, timedelta

import asyncpg
import pandas as pd

from citytwin.db.copy import copy_out_binary
from citytwin.db.sensor_hours import ALL_HOURS

# From the sensor hours (migrations 012 and 015), not the raw readings: a load reads about one
# row per sensor and hour of history (more where some of the hour's readings are flagged or its
# deltas are not folded yet; the stage adds rows of the same hour), one index range per sensor.
HOURLY_HISTORY = f"""
SELECT h.sensor_id, h.hour, h.sum, h.count
FROM sensors s
JOIN {ALL_HOURS} h ON h.sensor_id = s.id
WHERE s.feed = $1 AND h.variable_id = (SELECT id FROM variables WHERE name = $2)
  AND h.hour >= date_trunc('hour', $3::timestamptz, 'UTC') AND h.hour <= $4
"""
# Through a binary COPY: a feed's week is a few hundred thousand rows, too many to build a Python
# object per value; sensors come by id, named after.
HISTORY_TYPES = {"sensor_id": "int4", "hour": "timestamptz", "sum": "float8", "count": "int4"}

# Per kind of fault (bit) and variable of one sensor, over its readings in the $2 before its
# newest: how many
# readings hold it, the newest reading, whether that one holds it, and since when it has (the
# first reading holding it after the newest one that does not).
HEALTH = """
WITH kinds (kind, bit) AS (SELECT * FROM unnest($3::text[], $4::int2[])),
recent AS (
    SELECT r.variable_id, r.time, r.quality FROM readings r
    WHERE r.sensor_id = $1
      AND r.time >= (SELECT max(time) FROM latest_readings WHERE sensor_id = $1) - $2::interval
),
totals AS (
    SELECT variable_id, count(*) AS readings, max(time) AS newest FROM recent GROUP BY 1
),
per_kind AS (
    SELECT t.variable_id, k.kind, t.readings, t.newest,
           count(r.time) FILTER (WHERE r.quality & k.bit <> 0) AS flagged,
           max(r.time) FILTER (WHERE r.quality & k.bit = 0) AS last_clean,
           bool_or(r.quality & k.bit <> 0) FILTER (WHERE r.time = t.newest) AS open
    FROM totals t CROSS JOIN kinds k JOIN recent r USING (variable_id)
    GROUP BY 1, 2, 3, 4
)
SELECT v.name AS variable, p.kind, p.readings, p.newest, p.flagged, p.open,
       (SELECT min(r.time) FROM recent r
        WHERE r.variable_id = p.variable_id AND p.open
          AND r.time > coalesce(p.last_clean, '-infinity')) AS since
FROM per_kind p JOIN variables v ON v.id = p.variable_id
ORDER BY v.name, p.kind
"""


async def hourly_history(
    conn: asyncpg.Connection, feed: str, variable: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """Hourly sums and counts of `variable` per sensor (external id) of `feed` in the hours of
    [start, end]; an hour may come in two rows (flagged readings and the others), to be added."""
    history = await copy_out_binary(
        conn, HOURLY_HISTORY, feed, variable, start, end, types=HISTORY_TYPES
    )
    names = dict(await conn.fetch("SELECT id, external_id FROM sensors WHERE feed = $1", feed))
    sensor = history.pop("sensor_id").map(names)
    return history.assign(sensor=sensor)[["sensor", "hour", "sum", "count"]]


async def sensor_health(
    conn: asyncpg.Connection, sensor_id: int, window: timedelta, kinds: dict[str, int]
) -> list[asyncpg.Record]:
    """Per variable and kind of fault of one sensor's readings in the `window` before its
    newest: readings, newest, flagged, open (the newest holds it) and since when."""
    return await conn.fetch(HEALTH, sensor_id, window, list(kinds), list(kinds.values()))


# Every sensor (of feed $1, or all) with, over its readings in the $4 before its newest: its
# readings and those with any fault ($5 names the kind that is any of them), each open fault
# (variable, kind, since: as HEALTH) and its flagged readings per kind. Sensors without readings
# come with none (no score).
NETWORK_HEALTH = """
WITH kinds (kind, bit) AS (SELECT * FROM unnest($2::text[], $3::int2[])),
chosen AS (
    SELECT s.id, (SELECT max(time) FROM latest_readings l WHERE l.sensor_id = s.id) AS newest
    FROM sensors s WHERE $1::text IS NULL OR s.feed = $1
),
recent AS (
    SELECT r.sensor_id, r.variable_id, r.time, r.quality
    FROM chosen c JOIN readings r ON r.sensor_id = c.id AND r.time >= c.newest - $4::interval
),
newest AS (SELECT sensor_id, variable_id, max(time) AS newest FROM recent GROUP BY 1, 2),
per_kind AS (
    SELECT n.sensor_id, n.variable_id, k.kind, count(*) AS readings,
           count(*) FILTER (WHERE r.quality & k.bit <> 0) AS flagged,
           max(r.time) FILTER (WHERE r.quality & k.bit = 0) AS last_clean,
           bool_or(r.quality & k.bit <> 0) FILTER (WHERE r.time = n.newest) AS open
    FROM newest n JOIN recent r USING (sensor_id, variable_id) CROSS JOIN kinds k
    GROUP BY 1, 2, 3
),
faults AS (
    SELECT p.*, v.name AS variable,
           CASE WHEN p.open AND p.kind <> $5 THEN (
               SELECT min(r.time) FROM recent r
               WHERE r.sensor_id = p.sensor_id AND r.variable_id = p.variable_id
                 AND r.time > coalesce(p.last_clean, '-infinity'))
           END AS since
    FROM per_kind p JOIN variables v ON v.id = p.variable_id
)
SELECT s.id, s.feed, s.external_id, s.name, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
       coalesce(sum(f.readings) FILTER (WHERE f.kind = $5), 0)::int AS readings,
       coalesce(sum(f.flagged) FILTER (WHERE f.kind = $5), 0)::int AS flagged,
       array_agg(f.variable ORDER BY f.variable, f.kind) FILTER (WHERE f.since IS NOT NULL)
           AS open_variables,
       array_agg(f.kind ORDER BY f.variable, f.kind) FILTER (WHERE f.since IS NOT NULL)
           AS open_kinds,
       array_agg(f.since ORDER BY f.variable, f.kind) FILTER (WHERE f.since IS NOT NULL)
           AS open_since,
       array_agg(f.kind) FILTER (WHERE f.flagged > 0 AND f.kind <> $5) AS flagged_kinds,
       array_agg(f.flagged) FILTER (WHERE f.flagged > 0 AND f.kind <> $5) AS flagged_counts
FROM chosen c JOIN sensors s ON s.id = c.id LEFT JOIN faults f ON f.sensor_id = s.id
GROUP BY s.id
ORDER BY s.id
"""


async def network_health(
    conn: asyncpg.Connection,
    feed: str | None,
    window: timedelta,
    kinds: dict[str, int],
    any_kind: str,
) -> list[asyncpg.Record]:
    """Every sensor (of `feed`, or all) with its readings and faulty readings in the `window`
    before its newest, its open faults (variable, kind, since) and flagged readings per kind."""
    return await conn.fetch(
        NETWORK_HEALTH, feed, list(kinds), list(kinds.values()), window, any_kind
    )
