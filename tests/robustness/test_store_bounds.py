"""The store's bounds on real PostGIS: partitions only for months with rows, the store's time
range, the accepted window of an ingest, and replays into a month retention dropped."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from citytwin.db.retention import apply_plan, retention_store
from citytwin.feeds.definition import Retention
from citytwin.ingest.window import accepted_window
from citytwin.services.ingest import ingest
from citytwin.twin.retention import plan_retention
from tests.factories import to_csv
from tests.twin.readings import air_day, partitions, policies


async def load(conn, feeds, settings, rows: pd.DataFrame, **options):
    return await ingest(
        conn,
        feeds["air"],
        to_csv(rows),
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
        **options,
    )


def readings(*times: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": "S1",
            "lon": 9.52,
            "lat": 47.14,
            "time": list(times),
            "variable": "no2",
            "value": [30.0] * len(times),
        }
    )


async def fresh(conn) -> None:
    for name in await partitions(conn):
        await conn.execute(f"DROP TABLE {name}")


async def test_a_far_off_reading_makes_one_partition_not_every_month_between(conn, feeds, settings):
    await fresh(conn)
    report = await load(
        conn, feeds, settings, readings("1901-03-05T00:00:00Z", "2026-11-02T00:00:00Z")
    )
    assert report.loaded == 2
    assert await partitions(conn) == ["readings_1901_03", "readings_2026_11"]


async def test_year_9999_and_before_1900_are_refused_by_the_store(conn, feeds, settings):
    await fresh(conn)
    report = await load(
        conn, feeds, settings, readings("9999-12-31T23:00:00Z", "1899-12-31T23:00:00Z")
    )
    assert report.loaded == 0
    assert [(r.line, r.field, r.error) for r in report.rejected] == [
        (2, "time", "9999-12-31T23:00:00Z is not before 3000-01-01T00:00:00Z"),
        (3, "time", "1899-12-31T23:00:00Z is before 1900-01-01T00:00:00Z"),
    ]
    assert await partitions(conn) == []


async def test_the_window_around_now_refuses_by_policy_unless_a_back_load_says_since(
    conn, feeds, settings
):
    await fresh(conn)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    window = accepted_window(now, timedelta(days=365), timedelta(minutes=5))
    rows = readings("2020-01-01T00:00:00Z", "2026-11-30T00:00:00Z", "2026-12-02T00:00:00Z")
    report = await load(conn, feeds, settings, rows, window=window)
    assert report.loaded == 1
    assert [(r.line, r.error) for r in report.rejected] == [
        (
            2,
            "2020-01-01T00:00:00Z is before 2025-12-01T00:00:00Z; a historical back-load "
            "gives since= (--since)",
        ),
        (4, "2026-12-02T00:00:00Z is not before 2026-12-01T00:05:00Z"),
    ]
    back_load = accepted_window(
        now, timedelta(days=365), timedelta(minutes=5), since=datetime(2019, 1, 1, tzinfo=UTC)
    )
    report = await load(conn, feeds, settings, rows, window=back_load)
    assert (report.loaded, report.duplicates, len(report.rejected)) == (1, 1, 1)


async def rollup_totals(conn) -> dict[str, tuple[int, float]]:
    rows = await conn.fetch(
        "SELECT to_char(day, 'YYYY-MM') AS month, sum(count)::int AS n, sum(sum) AS total "
        "FROM cell_rollups GROUP BY 1 ORDER BY 1"
    )
    return {r["month"]: (r["n"], r["total"]) for r in rows}


async def test_a_replay_into_a_month_retention_dropped_counts_nothing_twice(conn, feeds, settings):
    await fresh(conn)
    august, october = air_day("S1", "2026-08-10"), air_day("S1", "2026-10-10")
    for day in (august, october):
        assert (await load(conn, feeds, settings, day)).loaded == 24
    before = await rollup_totals(conn)
    assert before == {"2026-08": (24, 720.0), "2026-10": (24, 720.0)}
    # The air feed keeps readings 45 days and rollups for ever: August's partition goes.
    kept = policies(feeds, air=Retention(readings="45d"))
    store = await retention_store(conn)
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)
    plan = plan_retention(store.partitions, kept, store.feeds_with_data, store.variables, now)
    await apply_plan(conn, plan)
    assert await partitions(conn) == ["readings_2026_10"]

    replay = await load(conn, feeds, settings, pd.concat([august, october]))
    assert (replay.loaded, replay.duplicates) == (0, 24)
    assert {r.line for r in replay.rejected} == set(range(2, 26))
    assert replay.rejected[0].error == (
        "the no2 readings of 2026-08 were dropped by retention while their cell rollups are "
        "kept: stored again they would be counted twice"
    )
    assert await rollup_totals(conn) == before
    assert await partitions(conn) == ["readings_2026_10"]
