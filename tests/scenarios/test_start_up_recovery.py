"""A service starting up marks the runs of processes of its host that died as interrupted at
once and removes the layers they left half-written; runs and layers of live processes, and of
other hosts, are left alone."""

import subprocess
import uuid

from citytwin.api.app import create_app
from citytwin.core.process import this_process
from tests.asgi import asgi_client


def dead_owner() -> str:
    """A process of this host that has ended (waited for, so not a zombie)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return this_process().replace(this_process().partition("@")[0], str(child.pid), 1)


def incoming(root, owner: str):
    """A half-written layer as the store names it while it is being written."""
    folder = root / "_incoming" / f"{uuid.uuid4().hex}-{uuid.uuid4().hex}-{owner}.zarr"
    (folder / "no2").mkdir(parents=True)
    (folder / "no2" / "0.0.0").write_bytes(b"half a chunk")
    return folder


async def test_start_up_interrupts_dead_runs_and_removes_their_layers(conn, settings, tmp_path):
    dead, alive, elsewhere = dead_owner(), this_process(), "4242@another-host"
    runs = {owner: uuid.uuid4().hex for owner in (dead, alive, elsewhere)}
    for owner, run_id in runs.items():
        await conn.execute(
            "INSERT INTO scenario_runs (id, name, scenario, status, stage, progress, owner) "
            "VALUES ($1, 'left running', '{}', 'running', 'baseline', 0.4, $2)",
            run_id,
            owner,
        )
    layers = tmp_path / "layers"
    orphan, writing, remote = (incoming(layers, owner) for owner in (dead, alive, elsewhere))
    app = create_app(settings.updated(layer_store=str(layers)))
    async with asgi_client(app) as client:
        answers = {
            owner: (await client.get(f"/scenarios/{run_id}")).json()
            for owner, run_id in runs.items()
        }
    assert (answers[dead]["status"], answers[dead]["error"]) == (
        "interrupted",
        "the process running it stopped",
    )
    assert answers[dead]["finished"] is not None
    assert answers[dead]["progress"] == 40.0  # as far as it got
    for owner in (alive, elsewhere):
        assert (answers[owner]["status"], answers[owner]["error"]) == ("running", None)
    assert not orphan.exists()
    assert writing.exists() and remote.exists()
