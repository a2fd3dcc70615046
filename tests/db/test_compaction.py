"""Rollup deltas: a load into days with rollups appends narrow slot rows; answers add them to
the day rows, and a compaction folds them in without changing any answer."""

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from citytwin.db.compaction import compact_rollups
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.query.params import Area, TimeRange
from citytwin.services.compaction import scheduled_compaction
from tests.factories import air_rows, ingest_rows

DAY = datetime(2026, 11, 2, tzinfo=UTC)

WAITING = "SELECT count(*) FROM cell_rollup_deltas"  # delta rows not yet compacted


async def load(conn, feeds, settings, rows) -> None:
    assert (await ingest_rows(conn, feeds, settings, rows))["rejected_total"] == 0


async def answers(conn, settings, no2: int) -> dict:
    base, bucket = settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
    asked = {
        "whole": CellQuery(no2, 9, Area(), TimeRange(None, None)),
        "day": CellQuery(no2, 9, Area(), TimeRange(DAY, DAY + timedelta(days=1))),
        "hours": CellQuery(
            no2, base, Area(), TimeRange(DAY, DAY + timedelta(days=2)), timedelta(hours=6)
        ),
        "cut day": CellQuery(
            no2, 8, Area(), TimeRange(DAY + timedelta(hours=5), DAY + timedelta(hours=30))
        ),
    }
    return {
        name: [tuple(row) for row in await cell_aggregates(conn, query, base, bucket)]
        for name, query in asked.items()
    }


def numbers(rows: list[tuple]) -> np.ndarray:
    """The statistics of answer rows (after their keys), None as NaN."""
    return np.array([[np.nan if v is None else v for v in r[2:]] for r in rows], float)


async def test_loads_into_rolled_up_days_append_deltas_that_compaction_folds(conn, feeds, settings):
    rows = air_rows(hours=36)
    first_day = rows["time"] < "2026-11-02T18:00:00Z"
    await load(conn, feeds, settings, rows[first_day])  # new days: day rows
    assert await conn.fetchval("SELECT count(*) FROM cell_rollup_deltas") == 0
    await load(conn, feeds, settings, rows[~first_day])  # 6 more hours of day 1, and day 2
    # 3 sensors x 2 variables x 18 hours, one narrow row each (one reading per hourly slot).
    assert await conn.fetchval(WAITING) == 108
    no2 = await conn.fetchval("SELECT id FROM variables WHERE name = 'no2'")
    before = await answers(conn, settings, no2)
    kept = rows[rows["variable"] == "no2"]
    assert sum(r[1] for r in before["whole"]) == len(kept) == 108
    assert sum(r[1] for r in before["day"]) == 72
    assert sum(r[2] for r in before["hours"]) == 108
    whole_sum = sum(r[1] * r[2] for r in before["whole"])
    assert whole_sum == pytest.approx(kept["value"].sum())
    assert sum(r[1] for r in before["cut day"]) == 25 * 3

    assert await compact_rollups(conn, settings.database.rollup_bucket_seconds) == 108
    assert await conn.fetchval("SELECT count(*) FROM cell_rollup_deltas") == 0
    assert await conn.fetchval("SELECT sum(count) FROM cell_rollups") == 216
    after = await answers(conn, settings, no2)
    for name, rows_before in before.items():
        assert [r[:2] for r in after[name]] == [r[:2] for r in rows_before], name
        np.testing.assert_allclose(numbers(after[name]), numbers(rows_before), err_msg=name)
    assert await compact_rollups(conn, settings.database.rollup_bucket_seconds) == 0


async def test_the_scheduled_compaction_folds_the_backlog(conn, pool, feeds, settings):
    rows = air_rows(hours=36)
    first_day = rows["time"] < "2026-11-02T18:00:00Z"
    await load(conn, feeds, settings, rows[first_day])
    await load(conn, feeds, settings, rows[~first_day])
    assert await conn.fetchval(WAITING) == 108
    async with scheduled_compaction(
        pool, settings.database.rollup_bucket_seconds, every_seconds=0.05
    ):
        for _ in range(200):
            if await conn.fetchval(WAITING) == 0:
                break
            await asyncio.sleep(0.05)
    assert await conn.fetchval(WAITING) == 0
    assert await conn.fetchval("SELECT sum(count) FROM cell_rollups") == 216
