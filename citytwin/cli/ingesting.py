"""`citytwin ingest`: files into the store, rejects written beside."""

import asyncio
import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from citytwin.cli.common import (
    app,
    console,
    fail,
    out,
    store_connection,
)
from citytwin.db.pool import Connection
from citytwin.errors import CityTwinError
from citytwin.feeds import load_feeds
from citytwin.services.ingest import IngestReport, ingest
from citytwin.settings import Settings

ENCODINGS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".geojson": "geojson",
    ".json": "geojson",
}


def _write_rejects(path: Path, report: IngestReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "field", "error"])
        writer.writerows((r.line, r.field, r.error) for r in report.rejected)


async def ingest_files(
    conn: Connection,
    settings: Settings,
    jobs: list[tuple[str, Path]],
    source_format: str | None,
    rejects_dir: Path,
) -> int:
    """Ingest each (feed, file), one transaction per file; return how many files failed."""
    feeds = load_feeds(settings.feeds_dir, settings.time_zone)
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
                    city_zone=feeds.city_zone,
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
            if report.stations:
                line += f", stations {report.stations}"
            if report.rejected:
                rejects = rejects_dir / f"{path.name}.rejects.csv"
                _write_rejects(rejects, report)
                line += f" (rejects in {rejects})"
            out.print(line)
            for warning in report.warnings:
                out.print(f"  warning: {warning}", markup=False)
    return failures


async def _ingest_command(
    settings: Settings, jobs: list[tuple[str, Path]], source_format: str | None, rejects_dir: Path
) -> int:
    async with store_connection(settings) as conn:
        return await ingest_files(conn, settings, jobs, source_format, rejects_dir)


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
        fail(exc)
    if failures:
        raise typer.Exit(1)
