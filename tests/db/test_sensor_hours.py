"""Sensor hours in the store: each load adds what it stored (a replay nothing), a live load as
deltas that the compaction folds in, they equal the hourly aggregates of the raw readings, and
the quality stage's history reads them."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from citytwin.db.compaction import compact_rollups
from citytwin.db.queries.quality import hourly_history
from citytwin.db.sensor_hours import ALL_HOURS
from tests.factories import air_rows, ingest_rows

FROM_READINGS = """
SELECT sensor_id, variable_id, date_trunc('hour', time, 'UTC') AS hour, flagged, count(*),
       sum(value), sum(value * value) AS sum_sq, min(value), max(value)
FROM readings GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
# Both tables, a key's rows added up.
STORED = f"""
SELECT sensor_id, variable_id, hour, flagged, sum(count), sum(sum), sum(sum_sq), min(min),
       max(max)
FROM {ALL_HOURS} h GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
# A sensor's hours (of both tables), flagged readings (rows of their own) left out unless asked.
SENSOR_HOURS = f"""
SELECT hour, sum(count)::bigint AS count, sum(sum) AS sum, sum(sum_sq) AS sum_sq, min(min) AS min
FROM {ALL_HOURS} h
WHERE sensor_id = $1 AND variable_id = (SELECT id FROM variables WHERE name = $2)
  AND hour >= $3 AND hour < $4 AND (NOT flagged OR $5)
GROUP BY 1 ORDER BY 1
"""


async def same_as_readings(conn, stored: str = STORED) -> int:
    want = [tuple(r) for r in await conn.fetch(FROM_READINGS)]
    got = [tuple(r) for r in await conn.fetch(stored)]
    assert [r[:5] for r in got] == [r[:5] for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine[5:] == pytest.approx(theirs[5:])
    return len(got)


async def test_loads_add_their_hours_and_replays_add_nothing(conn, feeds, settings):
    rows = air_rows(hours=6)
    # Two readings an hour: the stamps at :00 and the same values again at :30, a later load.
    later = rows.assign(time=rows["time"].str.replace(":00:00Z", ":30:00Z", regex=False))
    later.loc[0, "value"] = -5.0  # below zero: kept and flagged (its own row of the hour)
    assert (await ingest_rows(conn, feeds, settings, rows))["loaded"] == 36
    # A history load: one COPY, one row per sensor, variable and hour, no deltas.
    assert await same_as_readings(conn, "SELECT * FROM sensor_hours ORDER BY 1, 2, 3, 4") == 36
    assert (await ingest_rows(conn, feeds, settings, later))["loaded"] == 36
    # Into days already stored: one delta row per sensor-hour, none into `sensor_hours`.
    assert await conn.fetchval("SELECT count(*) FROM sensor_hour_deltas") == 36
    assert await conn.fetchval("SELECT sum(count) FROM sensor_hours") == 36
    assert await same_as_readings(conn) == 37  # the flagged reading's hour has two rows
    replay = await ingest_rows(conn, feeds, settings, pd.concat([rows, later]))
    assert (replay["loaded"], replay["duplicates"]) == (0, 72)
    assert await same_as_readings(conn) == 37
    counts = await conn.fetch(f"SELECT count, flagged FROM {ALL_HOURS} h WHERE flagged")
    assert [tuple(r) for r in counts] == [(1, True)]
    # The compaction folds the deltas into `sensor_hours`: one row per key, the same sums.
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    assert await conn.fetchval("SELECT count(*) FROM sensor_hour_deltas") == 0
    assert await same_as_readings(conn, "SELECT * FROM sensor_hours ORDER BY 1, 2, 3, 4") == 37


async def test_hours_answer_per_sensor_with_or_without_flagged_readings(conn, feeds, settings):
    rows = air_rows(hours=3)
    rows.loc[(rows["sensor_id"] == "S1") & (rows["variable"] == "no2"), "value"] = [40, -2, 50]
    await ingest_rows(conn, feeds, settings, rows)
    s1 = await conn.fetchval("SELECT id FROM sensors WHERE external_id = 'S1'")
    start, end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 2, 2, tzinfo=UTC)
    good = await conn.fetch(SENSOR_HOURS, s1, "no2", start, end, False)
    assert [(r["hour"].hour, r["count"], r["sum"], r["min"]) for r in good] == [(0, 1, 40, 40)]
    every = await conn.fetch(SENSOR_HOURS, s1, "no2", start, end, True)
    assert [(r["hour"].hour, r["count"], r["sum"], r["sum_sq"]) for r in every] == [
        (0, 1, 40, 1600),
        (1, 1, -2, 4),
    ]
    history = await hourly_history(conn, "air", "no2", start, end)
    assert len(history) == 3 * 3  # S1-S3, hours 0-2 (the end's hour included)
    s1_history = history[history["sensor"] == "S1"].sort_values("hour")
    assert s1_history[["sum", "count"]].values.tolist() == [[40, 1], [-2, 1], [50, 1]]
