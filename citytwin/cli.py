"""The `citytwin` command: database, ingest, serve, demo."""

import asyncio
import csv
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from citytwin.db import dead_letters, embedded
from citytwin.db.connect import resolve_database_url
from citytwin.db.districts import load_districts
from citytwin.db.feeds import sync_feeds
from citytwin.db.migrate import migrate
from citytwin.db.pool import Connection, connect
from citytwin.errors import CityTwinError
from citytwin.feeds import load_feeds
from citytwin.ingest.pipeline import IngestReport, ingest
from citytwin.ingest.push import replay
from citytwin.settings import Settings

if TYPE_CHECKING:
    from citytwin.scenarios.run import RunResult
    from citytwin.scenarios.spec import Scenario
    from citytwin.sim.pipeline import NowcastRequest

app = typer.Typer(
    help="citytwin: city sensor feeds on H3 cells in PostGIS, served by an API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True, soft_wrap=True)  # progress and errors
out = Console(soft_wrap=True)  # results

ENCODINGS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".geojson": "geojson",
    ".json": "geojson",
}


def _fail(error: Exception) -> None:
    console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(1)


async def prepare_store(settings: Settings) -> str:
    """Start the store if it is embedded, migrate it, sync feed definitions; return its URL."""
    url = await resolve_database_url(settings)
    conn = await connect(url)
    try:
        await migrate(conn, settings)
        await sync_feeds(conn, load_feeds(settings.feeds_dir))
    finally:
        await conn.close()
    return url


@asynccontextmanager
async def store_connection(settings: Settings) -> AsyncIterator[Connection]:
    """A connection to the prepared store (started if embedded, migrated, feeds synced)."""
    conn = await connect(await prepare_store(settings))
    try:
        yield conn
    finally:
        await conn.close()


@db_app.command("start")
def db_start() -> None:
    """Create (first time) and start the embedded PostGIS cluster, and migrate it."""
    settings = Settings()
    if settings.database_url:
        _fail(CityTwinError("CITYTWIN_DATABASE_URL is set: citytwin uses that server, starts none"))
    try:
        url = asyncio.run(prepare_store(settings))
    except CityTwinError as exc:
        _fail(exc)
    console.print(f"database ready at {url}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster."""
    cluster = embedded.cluster_for(Settings())
    console.print("stopped" if embedded.stop(cluster) else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say where the database is and whether it runs (exit 1 when the embedded one is down)."""
    settings = Settings()
    if settings.database_url:
        console.print(f"external database: {settings.database_url}")
        return
    cluster = embedded.cluster_for(settings)
    running = embedded.is_running(cluster)
    console.print(
        f"embedded cluster {cluster.data_dir}: {'running' if running else 'stopped'}"
        + (f" at {cluster.url}" if running else "")
    )
    if not running:
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (idempotent)."""

    async def run() -> list[str]:
        conn = await connect(await resolve_database_url(settings))
        try:
            return await migrate(conn, settings)
        finally:
            await conn.close()

    settings = Settings()
    try:
        applied = asyncio.run(run())
    except CityTwinError as exc:
        _fail(exc)
    console.print(f"applied: {', '.join(applied)}" if applied else "up to date")


def _write_rejects(path: Path, report: IngestReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "field", "error"])
        writer.writerows((r.line, r.field, r.error) for r in report.rejected)


async def _ingest_files(
    conn: Connection,
    settings: Settings,
    jobs: list[tuple[str, Path]],
    source_format: str | None,
    rejects_dir: Path,
) -> int:
    """Ingest each (feed, file), one transaction per file; return how many files failed."""
    feeds = load_feeds(settings.feeds_dir)
    failures = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        for feed, path in jobs:
            data = path.read_bytes()
            task = progress.add_task(f"{path.name} → {feed}", total=len(data))
            try:
                report = await ingest(
                    conn,
                    feeds[feed],
                    data,
                    encoding=ENCODINGS.get(path.suffix.lower(), "csv"),
                    source_format=source_format,
                    resolution=settings.h3_resolution,
                    bucket_seconds=settings.rollup_bucket_seconds,
                    on_progress=lambda done, task=task: progress.update(task, completed=done),
                )
            except CityTwinError as exc:
                console.print(f"[red]{path}: nothing stored:[/red] {exc}")
                failures += 1
                continue
            finally:
                progress.remove_task(task)
            line = (
                f"{path} → {feed}: read {report.read}, loaded {report.loaded}, "
                f"duplicates {report.duplicates}, rejected {len(report.rejected)}, "
                f"flagged {len(report.flagged)}"
            )
            if report.rejected:
                rejects = rejects_dir / f"{path.name}.rejects.csv"
                _write_rejects(rejects, report)
                line += f" (rejects in {rejects})"
            out.print(line)
    return failures


async def _ingest_command(
    settings: Settings, jobs: list[tuple[str, Path]], source_format: str | None, rejects_dir: Path
) -> int:
    async with store_connection(settings) as conn:
        return await _ingest_files(conn, settings, jobs, source_format, rejects_dir)


@app.command("ingest")
def ingest_command(
    feed: Annotated[str, typer.Argument(help="Feed name, as in sensors/<feed>.yaml.")],
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV, NDJSON or GeoJSON files.", exists=True, dir_okay=False),
    ],
    source_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="A feed source format (default: canonical, or sniffed from the header).",
        ),
    ] = None,
    rejects_dir: Annotated[
        Path | None,
        typer.Option(help="Where rejected rows are written (default: <state dir>/rejects)."),
    ] = None,
) -> None:
    """Ingest files into a feed: each file lands whole (its good rows) or not at all."""
    settings = Settings()
    try:
        failures = asyncio.run(
            _ingest_command(
                settings,
                [(feed, path) for path in files],
                source_format,
                rejects_dir or settings.state_dir / "rejects",
            )
        )
    except CityTwinError as exc:
        _fail(exc)
    if failures:
        raise typer.Exit(1)


def _serve(
    settings: Settings, host: str, port: int, workers: int = 1, access_log: bool = True
) -> None:
    import uvicorn

    from citytwin.api.app import create_app

    base = f"http://{host}:{port}"
    out.print(f"API:  {base}/\nDocs: {base}/docs\nTry:  {base}/cells?variable=no2&resolution=8")
    if workers > 1:
        # Each worker process builds its own app from the same CITYTWIN_* environment.
        target: object = "citytwin.api.app:create_app"
        options = {"factory": True, "workers": workers}
    else:
        target, options = create_app(settings), {}
    uvicorn.run(target, host=host, port=port, log_level="info", access_log=access_log, **options)


HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]


@app.command("serve")
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (one per core is a good start).")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    listen: Annotated[
        bool, typer.Option("--listen", help="Also run the MQTT listener (one worker only).")
    ] = False,
) -> None:
    """Serve the query API (starts and migrates the embedded database if needed)."""
    settings = Settings()
    if listen:
        if workers > 1:
            _fail(ValueError("--listen runs one MQTT session: use it with one worker"))
        settings = settings.model_copy(update={"mqtt_listen": True})
    try:
        asyncio.run(prepare_store(settings))
    except CityTwinError as exc:
        _fail(exc)
    _serve(settings, host, port, workers, access_log)


def demo_samples(feeds_dir: Path) -> dict[str, list[Path]]:
    """The demo city's sample files by feed: `samples/<feed>[_anything].<ext>`."""
    samples: dict[str, list[Path]] = {}
    for path in sorted((feeds_dir / "samples").iterdir()):
        feed = path.stem.split("_")[0]
        if path.suffix.lower() in ENCODINGS and (feeds_dir / f"{feed}.yaml").exists():
            samples.setdefault(feed, []).append(path)
    return samples


async def _demo_city(
    settings: Settings, jobs: list[tuple[str, Path]]
) -> tuple[int, int, str | None, "RunResult | dict | None"]:
    """Load the demo city on one connection: (failed files, districts, nowcast layer id), then
    model its baseline over the span of its traffic readings."""
    async with store_connection(settings) as conn:
        failures = await _ingest_files(conn, settings, jobs, None, settings.state_dir / "rejects")
        districts = await load_districts(conn, settings.gis_dir / "districts.geojson")
        nowcast = await _baseline_layer(conn, settings)
        scenario = await _demo_baseline(conn, settings)
    modelled = None
    if scenario is not None:
        modelled = await _run_scenario(settings, scenario, lambda stage, fraction: None)
    return failures, districts, nowcast, modelled


async def _demo_baseline(conn: Connection, settings: Settings) -> "Scenario | None":
    """The baseline scenario over the whole days of the stored traffic readings."""
    from citytwin.db.queries.layers import reading_span
    from citytwin.scenarios.spec import Baseline, Scenario

    span = await reading_span(conn, "vehicle_count")
    if span is None:
        return None
    start = span[0].replace(hour=0, minute=0, second=0, microsecond=0)
    end = span[1].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    baseline = Baseline(start=start, end=end, cell_size=settings.grid_cell_size)
    return Scenario(name="Baseline", description="The demo city as it is.", baseline=baseline)


@app.command("demo")
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
) -> None:
    """The demo city: database up, sample feeds ingested (re-runs add nothing), API served."""
    settings = Settings()
    jobs = [
        (feed, path) for feed, files in demo_samples(settings.feeds_dir).items() for path in files
    ]
    try:
        failures, districts, nowcast, modelled = asyncio.run(_demo_city(settings, jobs))
    except CityTwinError as exc:
        _fail(exc)
    out.print(f"{settings.gis_dir / 'districts.geojson'} → districts: {districts}")
    out.print(f"observed no2 nowcast layer: http://{host}:{port}/layers/{nowcast}")
    if isinstance(modelled, dict):
        _fail(RuntimeError(f"baseline run {modelled['status']}: {modelled['error']}"))
    if modelled is not None:
        out.print(
            f"modelled baseline (traffic air quality, building energy): "
            f"http://{host}:{port}/layers/{modelled.layer}"
        )
    if failures:
        raise typer.Exit(1)
    if serve_api:
        _serve(settings, host, port)


async def _nowcast(
    conn: Connection,
    settings: Settings,
    request: "NowcastRequest",
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    # Imported here: xarray and Dask would add most of a second to every other command's start.
    from citytwin.layers.store import layer_store_for
    from citytwin.sim.boundary import read_boundary
    from citytwin.sim.pipeline import run_nowcast

    return await run_nowcast(
        conn,
        layer_store_for(settings),
        read_boundary(settings.gis_dir / "boundary.geojson"),
        request,
        max_cells=settings.grid_max_cells,
        scheduler=settings.dask_scheduler,
        on_progress=on_progress,
    )


async def _baseline_layer(
    conn: Connection, settings: Settings, variable: str = "no2"
) -> str | None:
    """The demo's baseline layer: an observed nowcast of `variable` over its stored readings."""
    from citytwin.db.queries.layers import reading_span
    from citytwin.sim.pipeline import NowcastRequest

    span = await reading_span(conn, variable)
    if span is None:
        return None
    request = NowcastRequest(
        variable, span[0], span[1] + timedelta(hours=1), settings.grid_cell_size
    )
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
        float | None, typer.Option(help="Grid cell size, metres (default: the setting).")
    ] = None,
    power: Annotated[float, typer.Option(help="IDW power.")] = 2.0,
    search_radius: Annotated[
        float | None, typer.Option(help="Metres; sensors further away do not count.")
    ] = None,
) -> None:
    """Nowcast VARIABLE from the stored readings onto the city grid (IDW); print the layer id."""
    # Imported here: xarray and Dask would add most of a second to every other command's start.
    from citytwin.query.params import parse_time_range
    from citytwin.sim.nowcast import IdwParameters
    from citytwin.sim.pipeline import NowcastRequest

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
            cell_size or settings.grid_cell_size,
            IdwParameters(power=power, search_radius=search_radius),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"nowcast {variable}", total=None)
            layer_id = asyncio.run(
                run(request, lambda done, total: progress.update(task, completed=done, total=total))
            )
    except CityTwinError as exc:
        _fail(exc)
    out.print(layer_id)


scenario_app = typer.Typer(
    help="Planners' what-if scenarios: run them, list runs.", no_args_is_help=True
)
app.add_typer(scenario_app, name="scenario")


async def _run_scenario(
    settings: Settings, scenario: "Scenario", report: Callable[[str, float], None]
) -> "RunResult | dict":
    """Check, record and run a scenario in this process; its result, or its row if it ended
    failed or cancelled."""
    from citytwin.db import scenario_runs
    from citytwin.db.pool import create_pool
    from citytwin.layers.store import layer_store_for
    from citytwin.scenarios.jobs import execute, prepare
    from citytwin.scenarios.run import RunControl

    pool = await create_pool(await prepare_store(settings), 1, 2)
    try:
        async with pool.acquire() as conn:
            run = await prepare(conn, scenario, settings)
        control = RunControl(report=report, scheduler=settings.dask_scheduler)
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

            result = asyncio.run(_run_scenario(settings, parse_scenario(path.read_bytes()), report))
    except CityTwinError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        console.print("cancelled: no layer of the run was kept")
        raise typer.Exit(130) from None
    if isinstance(result, dict):
        _fail(RuntimeError(f"run {result['id']} {result['status']}: {result['error']}"))
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
        _fail(exc)


retention_app = typer.Typer(
    help="Retention: drop readings and rollups beyond each feed's policy.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")


async def _retention(settings: Settings, now: str | None, dry_run: bool) -> None:
    from datetime import UTC, datetime

    from citytwin.db.retention import apply_retention
    from citytwin.query.params import parse_time

    clock = parse_time(now, "--now") or datetime.now(UTC)
    async with store_connection(settings) as conn:
        run = await apply_retention(conn, load_feeds(settings.feeds_dir), clock, dry_run)
    plan, rows = run.plan, run.rows
    verb = "would drop" if dry_run else "dropped"
    if plan.readings_cutoff is None:
        reason = f"feed {plan.kept_by} keeps them forever" if plan.kept_by else "no sensors"
        out.print(f"readings: every partition kept ({reason})")
    else:
        out.print(
            f"readings: kept from {plan.readings_cutoff:%Y-%m-%dT%H:%M:%SZ} "
            f"(feed {plan.kept_by} keeps them longest)"
        )
    for partition in plan.partitions:
        out.print(f"readings: {verb} {partition.name} ({partition.start:%Y-%m}, whole month)")
    deleting = "would delete" if dry_run else "deleted"
    for variable in run.variables:
        if variable not in plan.rollups_before:
            out.print(f"rollups: {variable} kept (a feed with it keeps them forever)")
            continue
        before = f"{plan.rollups_before[variable]:%Y-%m-%d}"
        out.print(f"rollups: {variable} days before {before}: {deleting} {rows[variable]} rows")


@retention_app.command("apply")
def retention_apply(
    dry_run: Annotated[bool, typer.Option(help="Say what would go; change nothing.")] = False,
    now: Annotated[
        str | None, typer.Option(help="ISO 8601 time to apply the policies at (default: now).")
    ] = None,
) -> None:
    """Drop whole readings months older than every feed's policy, and rollup days beyond theirs."""
    try:
        asyncio.run(_retention(Settings(), now, dry_run))
    except CityTwinError as exc:
        _fail(exc)


deadletter_app = typer.Typer(
    help="Payloads that could not be stored: list them, replay them.", no_args_is_help=True
)
app.add_typer(deadletter_app, name="deadletter")


async def _dead_letters(settings: Settings, limit: int, offset: int, pending: bool) -> None:
    async with store_connection(settings) as conn:
        total, rows = await dead_letters.list_dead_letters(conn, limit, offset, pending)
    out.print(f"{total} dead letters")
    for row in rows:
        state = "replayed" if row["replayed_at"] else "pending"
        out.print(
            f"{row['id']}\t{row['received_at']:%Y-%m-%d %H:%M:%S}\t{row['format']}\t"
            f"{row['feed'] or '-'}\t{state}\t{len(row['payload'])} B\t{row['reason']}"
        )


@deadletter_app.command("list")
def deadletter_list(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    pending: Annotated[bool, typer.Option(help="Only those not replayed yet.")] = False,
) -> None:
    """Dead letters, newest first, with their reasons."""
    try:
        asyncio.run(_dead_letters(Settings(), limit, offset, pending))
    except CityTwinError as exc:
        _fail(exc)


async def _replay(settings: Settings, letter_id: int) -> dict[int, list[str]]:
    async with store_connection(settings) as conn:
        result = await replay(
            conn,
            load_feeds(settings.feeds_dir),
            letter_id,
            resolution=settings.h3_resolution,
            bucket_seconds=settings.rollup_bucket_seconds,
        )
    summary = result.summary()
    out.print(f"loaded {summary['loaded']}, already stored {summary['duplicates']}")
    return result.errors


@deadletter_app.command("replay")
def deadletter_replay(
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="Dead letter id.")],
) -> None:
    """Run a dead letter's payload through its path again; marked replayed if all of it lands."""
    try:
        errors = asyncio.run(_replay(Settings(), letter_id))
    except CityTwinError as exc:
        _fail(exc)
    for item, reasons in errors.items():
        console.print(f"[red]item {item}:[/red] {'; '.join(reasons)}")
    if errors:
        raise typer.Exit(1)


async def _listen(settings: Settings) -> None:
    from citytwin.stream.listener import listen

    url = await prepare_store(settings)
    await listen(settings, load_feeds(settings.feeds_dir), lambda: connect(url))


@app.command("listen")
def listen_command() -> None:
    """Subscribe to the MQTT broker (CITYTWIN_MQTT_*) and store each message as readings."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_listen(Settings()))
    except (CityTwinError, OSError) as exc:  # OSError: no database to start with
        _fail(exc)
