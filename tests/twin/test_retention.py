"""Retention on real PostGIS: exactly the planned months and days go, everything else stays."""

import asyncio
import os
from datetime import UTC, datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from citytwin.api import retention_schedule
from citytwin.cli import app as cli_app
from citytwin.db.retention import apply_plan, retention_store, rollups_to_delete
from citytwin.feeds.definition import Retention
from citytwin.twin.retention import plan_retention
from tests.factories import ingest_rows
from tests.twin.readings import air_day, partitions, policies

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)
DAYS = ("2026-08-10", "2026-09-10", "2026-10-10")


def traffic(day: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": "T1",
            "lon": 9.52,
            "lat": 47.14,
            "time": [f"{day}T{h:02d}:00:00Z" for h in range(24)],
            "variable": "vehicle_count",
            "value": [float(100 + h) for h in range(24)],
        }
    )


async def load(conn, feeds, settings, feed: str, rows: pd.DataFrame) -> None:
    assert (await ingest_rows(conn, feeds, settings, rows, feed))["loaded"] == len(rows)


@pytest.fixture
async def months(conn, feeds, settings):
    """no2 at S1 on three days in three months (and S2 in August only); traffic in two."""
    for name in await partitions(conn):  # emptied by the fixture; left by other tests
        await conn.execute(f"DROP TABLE {name}")
    for day in DAYS:
        await load(conn, feeds, settings, "air", air_day("S1", day))
    await load(conn, feeds, settings, "air", air_day("S2", DAYS[0]))
    for day in (DAYS[0], DAYS[2]):
        await load(conn, feeds, settings, "traffic", traffic(day))
    return conn


async def rollup_days(conn) -> dict[str, list[str]]:
    rows = await conn.fetch(
        "SELECT v.name, to_char(r.day, 'YYYY-MM-DD') AS day FROM cell_rollups r "
        "JOIN variables v ON v.id = r.variable_id ORDER BY 1, 2"
    )
    days: dict[str, list[str]] = {}
    for row in rows:
        days.setdefault(row["name"], []).append(row["day"])
    return days


async def test_exactly_the_planned_months_and_days_go(months, feeds):
    conn = months
    chosen = policies(
        feeds,
        air=Retention(readings="30d", rollups="60d"),
        traffic=Retention(readings="10d", rollups="20d"),
    )
    store = await retention_store(conn)
    assert [p.name for p in store.partitions] == [
        "readings_2026_08",
        "readings_2026_09",
        "readings_2026_10",
    ]
    assert (store.feeds_with_data, store.variables) == (
        ["air", "traffic"],
        ["no2", "vehicle_count"],
    )
    plan = plan_retention(store.partitions, chosen, store.feeds_with_data, store.variables, NOW)
    assert await rollups_to_delete(conn, plan) == {"no2": 2, "vehicle_count": 1}
    kept_rollups = await conn.fetch(
        "SELECT * FROM cell_rollups WHERE day >= '2026-09-01' ORDER BY variable_id, day, cell"
    )
    versions = dict(
        await conn.fetch("SELECT variable_id, max(version) FROM tile_versions GROUP BY 1")
    )

    deleted = await apply_plan(conn, plan)

    assert deleted == {"no2": 2, "vehicle_count": 1}  # two August no2 cells, one traffic
    assert await partitions(conn) == ["readings_2026_09", "readings_2026_10"]
    assert await conn.fetchval("SELECT count(*) FROM readings") == 24 * 3
    assert await rollup_days(conn) == {"no2": list(DAYS[1:]), "vehicle_count": [DAYS[2]]}
    # What is within policy is untouched, row for row.
    assert (
        await conn.fetch("SELECT * FROM cell_rollups ORDER BY variable_id, day, cell")
        == kept_rollups
    )
    # Sensor hours are rollups too: the same days go (24 hours of each sensor-day).
    hours = await conn.fetch(
        "SELECT v.name, to_char(h.hour, 'YYYY-MM-DD') AS day, count(*) FROM sensor_hours h "
        "JOIN variables v ON v.id = h.variable_id GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [tuple(r) for r in hours] == [
        ("no2", DAYS[1], 24),
        ("no2", DAYS[2], 24),
        ("vehicle_count", DAYS[2], 24),
    ]
    # Tiles of the deleted days change their ETags.
    bumped = await conn.fetch(
        "SELECT variable_id, version FROM tile_versions WHERE day = '2026-08-10'"
    )
    assert all(r["version"] > max(versions.values()) for r in bumped) and len(bumped) == 2
    # S2 only ever reported in August: its latest state went with its readings.
    latest = await conn.fetch(
        "SELECT s.external_id, l.time FROM latest_readings l JOIN sensors s ON s.id = l.sensor_id "
        "ORDER BY 1"
    )
    assert [r["external_id"] for r in latest] == ["S1", "T1"]


async def test_a_feed_keeping_readings_forever_keeps_every_month(months, feeds):
    conn = months
    chosen = policies(feeds, air=Retention(readings="1d"))  # traffic: no policy
    store = await retention_store(conn)
    plan = plan_retention(store.partitions, chosen, store.feeds_with_data, store.variables, NOW)
    assert (plan.partitions, plan.kept_by, plan.rollups_before) == ([], "traffic", {})
    assert await apply_plan(conn, plan) == {}
    assert len(await partitions(conn)) == 3
    assert await conn.fetchval("SELECT count(*) FROM readings") == 24 * 6


def test_the_command_shows_the_plan_and_drops_only_once_confirmed(months_for_cli, settings):
    env = {**os.environ, "CITYTWIN_DATABASE_URL": settings.database.database_url}
    runner = CliRunner()
    # The feed files' policies: air keeps readings a year, traffic 90 days.
    args = ["retention", "apply", "--now", "2027-09-15T00:00:00Z"]
    dropping = "(2026-08, whole month, 72 readings)"  # S1 and S2 no2 and T1's counts, 24 each
    dry = runner.invoke(cli_app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "readings: kept from 2026-09-15T00:00:00Z (feed air keeps them longest)" in dry.output
    assert f"readings: would drop readings_2026_08 {dropping}" in dry.output
    assert "readings_2026_09" not in dry.output
    assert "rollups: no2 days before 2017-09-17: would delete 0 rows" in dry.output
    # Without an answer (no terminal) or with "n", the plan is shown and nothing goes.
    for answer in ("", "n\n"):
        refused = runner.invoke(cli_app, args, env=env, input=answer)
        assert refused.exit_code == 1, refused.output
        assert f"readings: would drop readings_2026_08 {dropping}" in refused.output
        assert "nothing dropped (answer y, or pass --yes)" in refused.output
        assert "readings: dropped" not in refused.output
    done = runner.invoke(cli_app, args, env=env, input="y\n")
    assert done.exit_code == 0, done.output
    assert done.output.index("would drop") < done.output.index("Drop and delete the above?")
    assert f"readings: dropped readings_2026_08 {dropping}" in done.output
    again = runner.invoke(cli_app, [*args, "--yes"], env=env)
    assert again.exit_code == 0, again.output
    assert "would drop" not in again.output and "nothing to drop" in again.output


@pytest.fixture
async def months_for_cli(months, pool):
    """The months above, seen by the command (it opens its own connection)."""
    async with pool.acquire() as conn:
        assert len(await partitions(conn)) == 3
    yield
    async with pool.acquire() as conn:
        remaining = await partitions(conn)
    assert remaining == ["readings_2026_09", "readings_2026_10"]


async def test_the_service_announces_then_applies_the_policies_on_its_schedule(
    months, feeds, pool, monkeypatch, caplog
):
    """The API's retention task (when configured): the first run announced with what it would
    drop, then run, and what it dropped logged."""
    monkeypatch.setattr(retention_schedule, "FIRST_RUN_SECONDS", 0.0)
    short = policies(
        feeds,
        air=Retention(readings="30d", rollups="5y"),
        traffic=Retention(readings="30d", rollups="5y"),
    )
    monkeypatch.setattr(retention_schedule, "datetime", FixedClock)
    before = await partitions(months)
    caplog.set_level("INFO", logger="citytwin.retention")
    async with retention_schedule.scheduled_retention(pool, short, every_hours=24):
        for _ in range(100):  # until the run is logged (it logs once its transaction committed)
            logged = [r.getMessage() for r in caplog.records if r.name == "citytwin.retention"]
            if len(logged) == 9:
                break
            await asyncio.sleep(0.05)
    assert before == ["readings_2026_08", "readings_2026_09", "readings_2026_10"]
    assert await partitions(months) == ["readings_2026_09", "readings_2026_10"]
    assert logged[0].startswith("retention: the feeds' policies are applied every 24 h")
    assert logged[1:] == [
        "retention: readings: kept from 2026-09-20T12:00:00Z (feed air keeps them longest)",
        "retention: readings: would drop readings_2026_08 (2026-08, whole month, 72 readings)",
        "retention: rollups: no2 days before 2021-10-21: would delete 0 rows",
        "retention: rollups: vehicle_count days before 2021-10-21: would delete 0 rows",
        "retention: readings: kept from 2026-09-20T12:00:00Z (feed air keeps them longest)",
        "retention: readings: dropped readings_2026_08 (2026-08, whole month, 72 readings)",
        "retention: rollups: no2 days before 2021-10-21: deleted 0 rows",
        "retention: rollups: vehicle_count days before 2021-10-21: deleted 0 rows",
    ]
    assert all(r.levelname == "WARNING" for r in caplog.records if r.name == "citytwin.retention")


class FixedClock(datetime):
    """`datetime` whose now() is NOW, for the schedule's run."""

    @classmethod
    def now(cls, tz=None):
        return NOW
