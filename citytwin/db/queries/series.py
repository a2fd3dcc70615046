"""Per-period aggregates of sensor series, exact per series: from the sensor hours (migration
012) when the periods and the range are whole hours, else from the readings (the primary key's
range of each series). Flagged readings are left out, as in the rollups."""

import asyncpg

from citytwin.db.sensor_hours import ALL_HOURS
from citytwin.query.json_sql import ISO_Z
from citytwin.query.series import SeriesAggregates

ORIGIN = "2000-01-03 00:00:00+00"  # a Monday, as the cell buckets

# One series' hours or readings, through its primary key (`k` is the series).
HOURS = f"""SELECT h.hour AS t, h.count, h.sum, h.min, h.max FROM {ALL_HOURS} h
    WHERE h.sensor_id = k.sensor_id AND h.variable_id = k.variable_id
      AND h.hour >= $3 AND h.hour < $4 AND NOT h.flagged"""
READINGS = """SELECT r.time AS t, 1 AS count, r.value AS sum, r.value AS min, r.value AS max
    FROM readings r WHERE r.sensor_id = k.sensor_id AND r.variable_id = k.variable_id
      AND r.time >= $3 AND r.time < $4 AND NOT r.flagged"""
SECONDS = "extract(epoch FROM $5::interval) * interval '1 second'"
# One series' periods (a LATERAL per series `k`: small sorts, and no hash join over the whole
# range). Periods are counted in seconds: a day added in a zone with summer time may last 23
# or 25 hours.
PERIODS = f"""SELECT date_bin($5::interval, p.t, '{ORIGIN}') AS start,
       sum(p.count)::bigint AS count, sum(p.sum) AS sum, sum(p.sum) / sum(p.count) AS avg,
       min(p.min) AS min, max(p.max) AS max
    FROM ({{source}}) p GROUP BY 1"""
SERIES = "unnest($1::int4[], $2::int2[]) AS k (sensor_id, variable_id)"
ROWS = f"""SELECT k.sensor_id, k.variable_id, a.*, a.start + {SECONDS} AS "end",
       $6::bool AS from_rollups
FROM {SERIES} CROSS JOIN LATERAL ({PERIODS}) a
ORDER BY 1, 2, 3"""
# One JSON text per series. The periods' bounds (`span`) are written once for all series.
DOCUMENTS = f"""WITH spans AS MATERIALIZED (
    SELECT b AS start, '"' || {ISO_Z.format("b")} || '","' || {ISO_Z.format(f"(b + {SECONDS})")}
           || '"' AS span
    FROM generate_series(date_bin($5::interval, $3::timestamptz, '{ORIGIN}'),
                         $4::timestamptz - interval '1 microsecond', {SECONDS}) AS b)
SELECT k.sensor_id, k.variable_id, j.document
FROM {SERIES} CROSS JOIN LATERAL (
    SELECT {{document}} AS document
    FROM (SELECT p.*, s.span FROM ({PERIODS}) p JOIN spans s USING (start)) a) j
WHERE j.document IS NOT NULL
ORDER BY 1, 2"""


def _arguments(query: SeriesAggregates) -> list[object]:
    return [
        [sensor for sensor, _ in query.series],
        [variable for _, variable in query.series],
        query.start,
        query.end,
        query.period,
    ]


def _source(query: SeriesAggregates) -> str:
    return HOURS if query.whole_hours else READINGS


async def series_aggregates(
    conn: asyncpg.Connection, query: SeriesAggregates
) -> list[asyncpg.Record]:
    """Per series and period with data: start, end, count, sum, avg, min, max, from_rollups
    (whether the sensor hours answered)."""
    sql = ROWS.format(source=_source(query))
    return await conn.fetch(sql, *_arguments(query), query.whole_hours)


async def series_documents(
    conn: asyncpg.Connection, query: SeriesAggregates, document: str
) -> list[asyncpg.Record]:
    """Per series with data (sensor_id, variable_id): `document`, an aggregate over its
    periods' columns (start, end, count, sum, avg, min, max, and `span`, the JSON strings of
    start and end), written by the database (thousands of periods, no Python object each)."""
    sql = DOCUMENTS.format(source=_source(query), document=document)
    return await conn.fetch(sql, *_arguments(query))
