"""A scenario run whose process dies: its heartbeat stops and, a minute on, it reads as
interrupted wherever it is read from; while it lived, another instance could not cancel it."""

import asyncio
import os
import signal

import pytest

from citytwin.db.scenario_runs import STALE_AFTER
from citytwin.scenarios.jobs import HEARTBEAT_SECONDS
from tests.conftest import ROOT
from tests.factories import API_KEY

pytestmark = pytest.mark.usefixtures("demo_city")
WEEK = """name: Killed mid-run
baseline: {start: 2026-11-02T00:00:00Z, end: 2026-11-09T00:00:00Z, cell_size: 50}
interventions: []
"""


async def running_run(conn, process) -> dict:
    for _ in range(1800):  # a CLI process starting on a busy machine: up to three minutes
        assert process.returncode is None, "the run ended before it was seen running"
        row = await conn.fetchrow(
            "SELECT id, heartbeat FROM scenario_runs WHERE name = 'Killed mid-run' "
            "AND status = 'running'"
        )
        if row is not None:
            return dict(row)
        await asyncio.sleep(0.1)
    raise AssertionError("the run never started")


async def test_a_killed_run_reads_as_interrupted(app_client, pool, settings, tmp_path):
    spec = tmp_path / "week.yaml"
    spec.write_text(WEEK)
    env = {
        **os.environ,
        "CITYTWIN_DATABASE_URL": settings.database.database_url,
        "CITYTWIN_LAYER_STORE": str(tmp_path / "layers"),
    }
    process = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "citytwin"),
        "scenario",
        "run",
        str(spec),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with pool.acquire() as conn:
            run = await running_run(conn, process)
            # The CLI's run is not this service's: a cancel here is refused, saying why.
            cancel = await app_client.post(
                f"/scenarios/{run['id']}/cancel", headers={"X-API-Key": API_KEY}
            )
            assert cancel.status_code == 409
            assert cancel.json()["detail"] == (
                f"run {run['id']} is not run by this service (a CLI run?)"
            )
            # Alive, it beats: its row is written at least every HEARTBEAT_SECONDS.
            for _ in range(int(HEARTBEAT_SECONDS * 10) + 50):
                beat = await conn.fetchval(
                    "SELECT heartbeat FROM scenario_runs WHERE id = $1", run["id"]
                )
                if beat > run["heartbeat"]:
                    break
                await asyncio.sleep(0.1)
            assert beat > run["heartbeat"]
            assert process.returncode is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 10)
            alive = (await app_client.get(f"/scenarios/{run['id']}")).json()
            assert (alive["status"], alive["error"]) == ("running", None)
            # A minute without a beat (moved back rather than waited for).
            await conn.execute(
                "UPDATE scenario_runs SET heartbeat = heartbeat - make_interval(secs => $2) "
                "WHERE id = $1",
                run["id"],
                STALE_AFTER + 1,
            )
        dead = (await app_client.get(f"/scenarios/{run['id']}")).json()
        assert (dead["status"], dead["error"]) == ("interrupted", "the process running it stopped")
        listed = (await app_client.get("/scenarios")).json()["runs"]
        assert [r["status"] for r in listed if r["id"] == run["id"]] == ["interrupted"]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
