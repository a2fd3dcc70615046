"""Scenario runs as background jobs: checked and recorded before they start, model work in a
thread, stage and progress written to their row, cancellable, and never left half-done."""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field

from citytwin.core.city import with_settings
from citytwin.db import scenario_runs
from citytwin.db.city import require_city
from citytwin.db.pool import Connection, Pool
from citytwin.errors import CityTwinError, Conflict, RunCancelled
from citytwin.layers.store import LayerStore
from citytwin.scenarios.effects import Effects, compile_effects
from citytwin.scenarios.inputs import CityInputs, load_inputs
from citytwin.scenarios.models import RunControl
from citytwin.scenarios.run import RunResult, run_scenario
from citytwin.scenarios.spec import Scenario
from citytwin.settings import Settings
from citytwin.sim.scheduler import simulation_scheduler

logger = logging.getLogger("citytwin.scenarios")
POLL_SECONDS = 0.5  # how often a running job's progress reaches its row
HEARTBEAT_SECONDS = 10.0  # a row is written at least this often, so a dead run shows as such


@dataclass(frozen=True)
class PreparedRun:
    """A scenario whose inputs are loaded and whose interventions are checked."""

    run_id: str
    scenario: Scenario
    inputs: CityInputs
    effects: Effects


async def prepare(conn: Connection, scenario: Scenario, settings: Settings) -> PreparedRun:
    """Load and check everything a run needs, then record it as queued: every input error is
    raised here, before any work starts."""
    city = with_settings(await require_city(conn), settings)
    inputs = await load_inputs(conn, scenario, city, settings.simulation.grid_max_cells)
    weather = inputs.weather()
    effects = await asyncio.to_thread(
        compile_effects,
        scenario,
        inputs.grid,
        inputs.times,
        inputs.roads,
        inputs.buildings,
        weather,
    )
    run_id = uuid.uuid4().hex
    await scenario_runs.create_run(conn, run_id, scenario.name, scenario.canonical())
    return PreparedRun(run_id, scenario, inputs, effects)


@dataclass
class _Progress:
    stage: str = "queued"
    fraction: float = 0.0
    written: tuple[str, float] | None = None
    written_at: float = 0.0


async def execute(
    pool: Pool, run: PreparedRun, store: LayerStore, control: RunControl
) -> RunResult | None:
    """Run a prepared scenario to its end, keeping its row up to date; the result, or None
    when it failed or was cancelled (the row says why)."""
    progress = _Progress()
    outer = control.report

    def report(stage: str, fraction: float) -> None:
        progress.stage, progress.fraction = stage, fraction
        outer(stage, fraction)

    control.report = report
    work = asyncio.ensure_future(
        asyncio.to_thread(run_scenario, run.scenario, run.inputs, run.effects, store, control)
    )
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=POLL_SECONDS)
            now = time.monotonic()
            current = (progress.stage, progress.fraction)
            if progress.written != current or now - progress.written_at > HEARTBEAT_SECONDS:
                async with pool.acquire() as conn:
                    await scenario_runs.update_progress(conn, run.run_id, *current)
                progress.written, progress.written_at = current, now
        result = work.result()
    except asyncio.CancelledError:
        control.cancelled.set()  # the thread stops at its next stage or task: wait for it
        with contextlib.suppress(Exception):
            await work
        await _finish(pool, run.run_id, "cancelled", "the service stopped during the run")
        raise
    except RunCancelled as exc:
        await _finish(pool, run.run_id, "cancelled", str(exc))
        return None
    except CityTwinError as exc:
        await _finish(pool, run.run_id, "failed", str(exc))
        return None
    except Exception as exc:
        logger.exception("scenario run %s failed", run.run_id)
        await _finish(pool, run.run_id, "failed", f"{type(exc).__name__}: {exc}")
        return None
    async with pool.acquire() as conn:
        await scenario_runs.finish_run(
            conn,
            run.run_id,
            "succeeded",
            layers=(result.layer, result.baseline, result.diff),
            touched=result.touched,
        )
    return result


async def _finish(pool: Pool, run_id: str, status: str, error: str) -> None:
    async with pool.acquire() as conn:
        await scenario_runs.finish_run(conn, run_id, status, error)


@dataclass
class ScenarioJobs:
    """The service's running scenarios, one asyncio task each."""

    pool: Pool
    store: LayerStore
    settings: Settings
    controls: dict[str, RunControl] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task] = field(default_factory=dict)
    _cluster: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _starting: asyncio.Lock = field(default_factory=asyncio.Lock)
    _scheduler: tuple[str | None] | None = None  # (address,) once known

    async def scheduler(self) -> str | None:
        """Where runs compute: the settings' scheduler (None: local threads), or a LocalCluster
        of `dask_workers` processes started at the first run and kept until `close`."""
        async with self._starting:
            if self._scheduler is None:
                # Starting worker processes takes seconds: not on the event loop.
                scheduler = simulation_scheduler(self.settings.simulation)
                self._scheduler = (await asyncio.to_thread(self._cluster.enter_context, scheduler),)
        return self._scheduler[0]

    async def submit(self, conn: Connection, scenario: Scenario) -> str:
        """Check and record a run, start it in the background; its id."""
        run = await prepare(conn, scenario, self.settings)
        control = RunControl(scheduler=await self.scheduler())
        self.controls[run.run_id] = control
        task = asyncio.create_task(execute(self.pool, run, self.store, control))
        self.tasks[run.run_id] = task
        task.add_done_callback(lambda _: self._forget(run.run_id))
        return run.run_id

    def _forget(self, run_id: str) -> None:
        self.controls.pop(run_id, None)
        self.tasks.pop(run_id, None)

    async def cancel(self, conn: Connection, run_id: str) -> None:
        """Ask a run of this service to stop; Conflict if it has ended or runs elsewhere."""
        run = await scenario_runs.get_run(conn, run_id)
        control = self.controls.get(run_id)
        if control is None:
            if run["status"] in scenario_runs.ACTIVE:
                raise Conflict(f"run {run_id} is not run by this service (a CLI run?)")
            raise Conflict(f"run {run_id} has already ended ({run['status']})")
        control.cancelled.set()

    async def recover(self, conn: Connection) -> None:
        """At start-up: runs of processes of this host that died are marked interrupted and
        the layers they left half-written removed (runs of live processes are left alone)."""
        runs = await scenario_runs.interrupt_dead(conn)
        orphans = await asyncio.to_thread(self.store.clean_incoming)
        if runs or orphans:
            logger.warning(
                "runs interrupted by a process that died: %s; half-written layers removed: %s",
                ", ".join(runs) or "none",
                ", ".join(orphans) or "none",
            )

    async def close(self) -> None:
        """Cancel every run still going (their rows say so) and wait for them."""
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await asyncio.to_thread(self._cluster.close)
