"""Loads of different feeds run together; loads of one feed (a replay sent twice at once) take
turns, and every reading is counted once in the readings, the rollups and the sensor hours."""

import asyncio

import numpy as np
import pandas as pd

from citytwin.db.feeds import variable_ids
from citytwin.db.load import reading_load
from citytwin.db.sensor_hours import ALL_HOURS
from citytwin.services.ingest import ingest, parse
from tests.factories import air_rows, to_csv


def traffic(hours: int, start: str = "2026-11-02T00:00:00Z") -> pd.DataFrame:
    times = pd.date_range(start, periods=hours, freq="h")
    return pd.DataFrame(
        {
            "sensor_id": "T1",
            "lon": 9.52,
            "lat": 47.14,
            "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "variable": "vehicle_count",
            "value": np.arange(hours, dtype=float) + 100,
        }
    )


async def load(conn, feed, settings, rows: pd.DataFrame):
    return await ingest(
        conn,
        feed,
        to_csv(rows),
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )


async def test_a_load_of_another_feed_commits_while_one_is_open(conn, pool, feeds, settings):
    # Both feeds' days exist already: no partition or day row is made by the loads below.
    await load(conn, feeds["air"], settings, air_rows(hours=2))
    await load(conn, feeds["traffic"], settings, traffic(2))
    later_air = air_rows(hours=4).iloc[2::4].reset_index(drop=True)  # hour 2 of each series
    _, valid = parse(to_csv(later_air), feeds["air"])
    variables = await variable_ids(conn)
    base, bucket = settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
    async with (
        pool.acquire() as other,
        reading_load(conn, "air", variables, base, bucket) as open_load,
    ):
        await open_load.store(await open_load.prepare(valid.frame.assign(quality=0)))
        # Under one global load lock this would wait for the air load to commit.
        report = await asyncio.wait_for(
            load(other, feeds["traffic"], settings, traffic(3, "2026-11-02T02:00:00Z")), 30
        )
        assert report.loaded == 3
        assert await other.fetchval("SELECT count(*) FROM readings") == 12 + 2 + 3
        await open_load.finish()
    assert await conn.fetchval("SELECT count(*) FROM readings") == 12 + 2 + 3 + len(later_air)
    hours = await conn.fetchval(f"SELECT sum(count) FROM {ALL_HOURS} h")
    assert hours == 12 + 5 + len(later_air)


async def test_a_replay_sent_twice_at_once_is_counted_once(conn, pool, feeds, settings):
    rows = air_rows(hours=30)
    await load(conn, feeds["air"], settings, rows.iloc[:6])  # the days exist: deltas
    async with pool.acquire() as other:
        first, second = await asyncio.gather(
            load(conn, feeds["air"], settings, rows), load(other, feeds["air"], settings, rows)
        )
    assert first.loaded + second.loaded == len(rows) - 6
    assert first.duplicates + second.duplicates == len(rows) + 6
    assert await conn.fetchval("SELECT count(*) FROM readings") == len(rows)
    assert await conn.fetchval(f"SELECT sum(count) FROM {ALL_HOURS} h") == len(rows)
    rolled = await conn.fetchval(
        "SELECT (SELECT sum(count) FROM cell_rollups) + "
        "(SELECT coalesce(sum(count), 0) FROM cell_rollup_deltas)"
    )
    assert rolled == len(rows)
    total = await conn.fetchval(f"SELECT sum(sum) FROM {ALL_HOURS} h")
    assert abs(total - rows["value"].sum()) < 1e-6
