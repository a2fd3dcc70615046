"""`citytwin layer` and `citytwin scenario`: gridded layers and planners' runs."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from citytwin.cli.common import (
    app,
    console,
    fail,
    out,
    prepare_store,
    store_connection,
)
from citytwin.db.pool import Connection
from citytwin.errors import CityTwinError
from citytwin.settings import Settings

if TYPE_CHECKING:
    from citytwin.scenarios.run import RunResult
    from citytwin.scenarios.spec import Scenario
    from citytwin.services.nowcast import NowcastRequest


async def _nowcast(
    conn: Connection,
    settings: Settings,
    request: "NowcastRequest",
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    # Imported here: xarray and Dask would add most of a second to every other command's start.
    from citytwin.core.city import with_settings
    from citytwin.db.city import require_city
    from citytwin.layers.store import layer_store_for
    from citytwin.services.nowcast import run_nowcast
    from citytwin.sim.scheduler import simulation_scheduler

    city = with_settings(await require_city(conn), settings)
    with simulation_scheduler(settings.simulation) as scheduler:
        return await run_nowcast(
            conn,
            layer_store_for(settings),
            city,
            request,
            max_cells=settings.simulation.grid_max_cells,
            scheduler=scheduler,
            on_progress=on_progress,
        )


async def nowcast_layer(conn: Connection, settings: Settings, variable: str = "no2") -> str | None:
    """The demo's baseline layer: an observed nowcast of `variable` over its stored readings."""
    from citytwin.db.queries.layers import reading_span
    from citytwin.services.nowcast import NowcastRequest

    span = await reading_span(conn, variable)
    if span is None:
        return None
    # The end is the last reading's time, included: a microsecond past it.
    request = NowcastRequest(variable, span[0], span[1] + timedelta(microseconds=1))
    return await _nowcast(conn, settings, request)


layer_app = typer.Typer(
    help="Gridded layers: models on the city grid, kept in the layer store.",
    no_args_is_help=True,
)
app.add_typer(layer_app, name="layer")


@layer_app.command("nowcast")
def layer_nowcast(
    variable: Annotated[str, typer.Argument(help="Variable to nowcast, e.g. no2.")],
    start: Annotated[str, typer.Option(help="ISO 8601 start (inclusive).")],
    end: Annotated[str, typer.Option(help="ISO 8601 end (exclusive).")],
    cell_size: Annotated[
        float | None,
        typer.Option(help="Grid cell size, metres (default: the setting, else the city's)."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="kriging (with external drift on site type) or idw.")
    ] = "kriging",
    power: Annotated[float, typer.Option(help="IDW power.")] = 2.0,
    search_radius: Annotated[
        float | None, typer.Option(help="Metres; sensors further away do not count.")
    ] = None,
) -> None:
    """Nowcast VARIABLE from the stored readings onto the city grid; print the layer id."""
    # Imported here: xarray and Dask would add most of a second to every other command's start.
    from citytwin.query.params import parse_time_range
    from citytwin.services.nowcast import NowcastRequest
    from citytwin.sim.nowcast import IdwParameters

    async def run(request: NowcastRequest, on_progress: Callable[[int, int], None]) -> str:
        async with store_connection(settings) as conn:
            return await _nowcast(conn, settings, request, on_progress)

    settings = Settings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        span = parse_time_range(start, end)
        request = NowcastRequest(
            variable,
            span.start,
            span.end,
            cell_size or settings.city.grid_cell_size,  # None: the city's
            method=method,
            idw=IdwParameters(power=power, search_radius=search_radius),
        )
        request.parameters()  # an unknown method is refused before any work
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"nowcast {variable}", total=None)
            layer_id = asyncio.run(
                run(request, lambda done, total: progress.update(task, completed=done, total=total))
            )
    except CityTwinError as exc:
        fail(exc)
    out.print(layer_id)


@layer_app.command("validate")
def layer_validate(
    layer_id: Annotated[str, typer.Argument(help="Layer id.")],
    json: Annotated[bool, typer.Option("--json", help="Print the whole answer as JSON.")] = False,
) -> None:
    """LAYER_ID's leave-one-station-out skill beside the baselines, and its in-sample fit."""
    import orjson

    from citytwin.db.feeds import variable_ids
    from citytwin.layers.store import layer_store_for
    from citytwin.services.validation import summary_rows, validation

    async def run() -> dict:
        async with store_connection(settings) as conn:
            names = await variable_ids(conn)
            return await validation(conn, layer_store_for(settings), layer_id, names)

    settings = Settings()
    try:
        answer = asyncio.run(run())
    except CityTwinError as exc:
        fail(exc)
    if json:
        out.print(orjson.dumps(answer, option=orjson.OPT_UTC_Z).decode(), highlight=False)
        return
    if answer["leave_one_out"] is None:
        out.print(f"leave-one-station-out: none ({answer['leave_one_out_missing']})")
    out.print(
        f"{'variable':<10} {'method':<16} {'n':>7} {'bias':>8} {'rmse':>8} {'r':>6} {'mqi90':>6}"
    )
    for variable, method, scores in summary_rows(answer):
        r, mqi90 = scores.get("r"), scores.get("mqi90")
        out.print(
            f"{variable:<10} {method:<16} {scores['n']:>7} {scores['bias']:>8.2f} "
            f"{scores['rmse']:>8.2f} {'' if r is None else f'{r:.2f}':>6} "
            f"{'' if mqi90 is None else f'{mqi90:.2f}':>6}"
        )


scenario_app = typer.Typer(
    help="Planners' what-if scenarios: run them, list runs.", no_args_is_help=True
)
app.add_typer(scenario_app, name="scenario")


async def run_scenario_here(
    settings: Settings, scenario: "Scenario", report: Callable[[str, float], None]
) -> "RunResult | dict":
    """Check, record and run a scenario in this process; its result, or its row if it ended
    failed or cancelled."""
    from citytwin.db import scenario_runs
    from citytwin.db.pool import create_pool
    from citytwin.layers.store import layer_store_for
    from citytwin.scenarios.jobs import execute, prepare
    from citytwin.scenarios.models import RunControl
    from citytwin.sim.scheduler import simulation_scheduler

    pool = await create_pool(await prepare_store(settings), 1, 2)
    try:
        async with pool.acquire() as conn:
            run = await prepare(conn, scenario, settings)
        with simulation_scheduler(settings.simulation) as scheduler:
            control = RunControl(report=report, scheduler=scheduler)
            result = await execute(pool, run, layer_store_for(settings), control)
        if result is not None:
            return result
        async with pool.acquire() as conn:
            return await scenario_runs.get_run(conn, run.run_id)
    finally:
        await pool.close()


@scenario_app.command("run")
def scenario_run(
    path: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).", exists=True)],
) -> None:
    """Run the scenario in PATH with a progress bar; print its layers (Ctrl-C cancels it)."""
    from citytwin.scenarios.spec import parse_scenario

    settings = Settings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
    )
    columns += (TimeElapsedColumn(),)
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("checking", total=1.0)

            def report(stage: str, fraction: float) -> None:
                progress.update(task, description=stage, completed=fraction)

            result = asyncio.run(
                run_scenario_here(
                    settings,
                    parse_scenario(path.read_bytes(), settings.simulation.scenario_max_days),
                    report,
                )
            )
    except CityTwinError as exc:
        fail(exc)
    except KeyboardInterrupt:
        console.print("cancelled: no layer of the run was kept")
        raise typer.Exit(130) from None
    if isinstance(result, dict):
        fail(RuntimeError(f"run {result['id']} {result['status']}: {result['error']}"))
    for summary in result.touched:
        touched = ", ".join(
            f"{summary[k]} {k}" for k in ("roads", "buildings", "steps") if k in summary
        )
        out.print(f"{summary['intervention']} ({summary['type']}): {touched}")
    out.print(f"layer:    {result.layer}")
    out.print(f"baseline: {result.baseline}")
    if result.diff:
        out.print(f"diff:     {result.diff}")


@scenario_app.command("list")
def scenario_list(limit: Annotated[int, typer.Option(help="How many runs.")] = 20) -> None:
    """The latest runs: id, status, progress, name and layer."""
    from citytwin.db import scenario_runs

    async def runs() -> list[dict]:
        async with store_connection(settings) as conn:
            return (await scenario_runs.list_runs(conn, limit))[1]

    settings = Settings()
    try:
        for run in asyncio.run(runs()):
            outcome = run["layer"] or run["error"] or ""
            out.print(
                f"{run['id']}  {run['status']:<9} {100 * run['progress']:5.1f}%  "
                f"{run['name']}  {outcome}"
            )
    except CityTwinError as exc:
        fail(exc)
