"""Month totals: built by the compaction for months that are over, read by city-wide answers
over whole months, forgotten by a load writing into the month until built again."""

from datetime import UTC, datetime

import pytest

from citytwin.db.compaction import compact_rollups
from citytwin.db.queries.cells import CellQuery, cell_aggregates, month_block
from citytwin.query.params import Area, TimeRange
from tests.factories import air_rows, ingest_rows

START, END = datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 12, 1, tzinfo=UTC)


def test_the_longest_run_of_months_is_chosen():
    months = [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 4, 5, 6, 12)]
    assert month_block(months) == (months[2], datetime(2024, 7, 1, tzinfo=UTC))
    december = [datetime(2024, 12, 1, tzinfo=UTC)]
    assert month_block(december) == (december[0], datetime(2025, 1, 1, tzinfo=UTC))
    assert month_block([]) is None


async def load(conn, feeds, settings, rows) -> None:
    assert (await ingest_rows(conn, feeds, settings, rows))["loaded"] == len(rows)


async def answer(conn, settings, variable: int, start=START, end=END) -> list[tuple]:
    query = CellQuery(variable, 8, Area(), TimeRange(start, end))
    rows = await cell_aggregates(
        conn, query, settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
    )
    return [(r["cell"], r["count"], r["mean"]) for r in rows]


async def test_month_totals_answer_whole_months_and_follow_late_readings(conn, feeds, settings):
    rows = air_rows(hours=48, start="2024-10-31T00:00:00Z")  # 31 October and 1 November
    await load(conn, feeds, settings, rows)
    no2 = await conn.fetchval("SELECT id FROM variables WHERE name = 'no2'")
    before = await answer(conn, settings, no2)
    await conn.execute("SET TIME ZONE 'America/New_York'")  # months are UTC months whatever
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    built = await conn.fetch(
        "SELECT month FROM cell_rollup_months_built WHERE variable_id = $1 ORDER BY 1", no2
    )
    assert [r["month"] for r in built] == [START, datetime(2024, 11, 1, tzinfo=UTC)]
    after = await answer(conn, settings, no2)
    assert [r[:2] for r in after] == [r[:2] for r in before] and sum(r[1] for r in after) == 144
    assert [r[2] for r in after] == pytest.approx([r[2] for r in before])
    # Answers over whole months read the month rows: a change there shows.
    await conn.execute(
        "UPDATE cell_rollup_months SET count = count + 1000 WHERE variable_id = $1", no2
    )
    assert (
        sum(r[1] for r in await answer(conn, settings, no2)) == 144 + 1000 * 6
    )  # 3 base cells x 2 months
    # A range cutting October reads its days: its day rows, the month rows of November.
    cut = await answer(conn, settings, no2, datetime(2024, 10, 31, 12, tzinfo=UTC))
    assert sum(r[1] for r in cut) == 144 - 36 + 1000 * 3
    await conn.execute(
        "UPDATE cell_rollup_months SET count = count - 1000 WHERE variable_id = $1", no2
    )

    late = air_rows(hours=1, start="2024-10-15T06:00:00Z")  # a late reading of each series
    await load(conn, feeds, settings, late)
    months = await conn.fetch(
        "SELECT month FROM cell_rollup_months_built WHERE variable_id = $1", no2
    )
    assert [r["month"] for r in months] == [datetime(2024, 11, 1, tzinfo=UTC)]
    assert sum(r[1] for r in await answer(conn, settings, no2)) == 144 + 3
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    assert await conn.fetchval("SELECT count(*) FROM cell_rollup_months_built") == 4
    assert sum(r[1] for r in await answer(conn, settings, no2)) == 144 + 3
