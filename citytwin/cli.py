"""The `citytwin` command: database, ingest, serve, demo."""

import asyncio
import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from citytwin.db import embedded
from citytwin.db.connect import resolve_database_url
from citytwin.db.feeds import sync_feeds
from citytwin.db.migrate import migrate
from citytwin.db.pool import connect
from citytwin.errors import CityTwinError
from citytwin.feeds import load_feeds
from citytwin.ingest.pipeline import IngestReport, ingest
from citytwin.settings import Settings

app = typer.Typer(
    help="citytwin: city sensor feeds on H3 cells in PostGIS, served by an API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)

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
    settings: Settings,
    feed_name: str,
    files: list[Path],
    source_format: str | None,
    rejects_dir: Path,
) -> int:
    url = await prepare_store(settings)
    feed = load_feeds(settings.feeds_dir)[feed_name]
    conn = await connect(url)
    failures = 0
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            for path in files:
                task = progress.add_task(f"{path.name}: reading, validating, storing", total=None)
                try:
                    report = await ingest(
                        conn,
                        feed,
                        path.read_bytes(),
                        encoding=ENCODINGS.get(path.suffix.lower(), "csv"),
                        source_format=source_format,
                        resolution=settings.h3_resolution,
                        bucket_seconds=settings.rollup_bucket_seconds,
                    )
                except CityTwinError as exc:
                    progress.remove_task(task)
                    console.print(f"[red]{path}: nothing stored:[/red] {exc}")
                    failures += 1
                    continue
                progress.remove_task(task)
                line = (
                    f"{path}: read {report.read}, loaded {report.loaded}, "
                    f"duplicates {report.duplicates}, rejected {len(report.rejected)}, "
                    f"flagged {len(report.flagged)}"
                )
                if report.rejected:
                    rejects = rejects_dir / f"{path.name}.rejects.csv"
                    _write_rejects(rejects, report)
                    line += f" (rejects in {rejects})"
                console.print(line)
    finally:
        await conn.close()
    return failures


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
            _ingest_files(
                settings, feed, files, source_format, rejects_dir or settings.state_dir / "rejects"
            )
        )
    except CityTwinError as exc:
        _fail(exc)
    if failures:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the query API (starts and migrates the embedded database if needed)."""
    import uvicorn

    from citytwin.api.app import create_app

    settings = Settings()
    try:
        asyncio.run(prepare_store(settings))
    except CityTwinError as exc:
        _fail(exc)
    console.print(f"API on http://{host}:{port}/  (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
