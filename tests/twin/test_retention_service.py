"""An old archive loaded into a running service: kept unless the operator set a schedule, and
then the log names what was dropped; the load's answer says it is beyond the feed's policy."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from citytwin.api import retention_schedule
from citytwin.api.app import create_app
from citytwin.settings import DatabaseSettings
from tests.asgi import asgi_client
from tests.factories import API_KEY, to_csv
from tests.twin.readings import air, hourly

ARCHIVE = air(hourly("S1", "no2", [20.0 + h for h in range(24)], start=0))
ARCHIVE["time"] = ARCHIVE["time"].str.replace("2026-11-02", "2020-03-14")


async def load_archive(client) -> dict:
    answer = await client.post(
        "/feeds/air/readings",
        content=to_csv(ARCHIVE),
        headers={"X-API-Key": API_KEY, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def stored(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM readings WHERE time < '2021-01-01'")


def test_the_service_deletes_nothing_unless_a_schedule_is_set():
    assert DatabaseSettings.model_fields["retention_hours"].default == 0


async def test_an_archive_beyond_policy_is_kept_and_the_answer_says_why(
    conn, settings, monkeypatch, caplog
):
    monkeypatch.setattr(retention_schedule, "FIRST_RUN_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="citytwin")
    default = settings.updated(
        retention_hours=DatabaseSettings.model_fields["retention_hours"].default
    )
    async with asgi_client(create_app(default)) as client:
        report = await load_archive(client)
        await asyncio.sleep(0.5)  # a schedule with no delay would have run by now
        assert await stored(conn) == 24
    assert (report["loaded"], report["rejected"]) == (24, [])
    # Air keeps readings a year (its rollups ten years: 2020 is within that, so one warning).
    (warning,) = report["warnings"]
    cutoff = f"{datetime.now(UTC) - timedelta(days=365):%Y-%m-%d}"
    assert warning == (
        f"retention: 24 readings are older than {cutoff}, beyond feed air's policy "
        "(readings: 1y); they are stored, and their months are dropped when retention runs "
        "(`citytwin retention apply`, or the service's schedule if CITYTWIN_RETENTION_HOURS "
        "is set), unless another feed with sensors keeps readings longer"
    )
    assert not [r for r in caplog.records if r.name == "citytwin.retention"]


async def test_a_schedule_the_operator_set_drops_it_and_logs_what(
    client, conn, settings, monkeypatch, caplog
):
    monkeypatch.setattr(retention_schedule, "FIRST_RUN_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="citytwin")
    for name in await conn.fetch(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits "
        "WHERE inhparent = 'readings'::regclass"
    ):  # empty partitions other tests left (the store is emptied): only the archive's counts
        await conn.execute(f"DROP TABLE {name['name']}")
    await load_archive(client)  # into the store, then a service with a schedule starts on it
    scheduled = settings.updated(retention_hours=24.0)
    async with asgi_client(create_app(scheduled)):
        for _ in range(200):  # until the run is logged (it logs once its transaction committed)
            logged = [r.getMessage() for r in caplog.records if r.name == "citytwin.retention"]
            if any("dropped" in line for line in logged):
                break
            await asyncio.sleep(0.05)
    assert await stored(conn) == 0
    drop = "readings_2020_03 (2020-03, whole month, 24 readings)"
    assert logged[0].startswith("retention: the feeds' policies are applied every 24.0 h")
    assert logged[1:3] == [
        logged[1],  # what air keeps (from a year before now)
        f"retention: readings: would drop {drop}",
    ]
    assert f"retention: readings: dropped {drop}" in logged
