"""`citytwin ingest`: files into the store, rejects written beside."""

import asyncio
import csv
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

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
from citytwin.db.compaction import compact_rollups
from citytwin.db.errors import translate
from citytwin.db.pool import Connection
from citytwin.errors import CityTwinError
from citytwin.feeds import load_feeds
from citytwin.ingest.verdicts import Rejection
from citytwin.query.params import parse_time
from citytwin.services.ingest import ingest, ingest_window
from citytwin.settings import Settings

ENCODINGS = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".geojson": "geojson",
    ".json": "geojson",
}


class RejectsFile:
    """Rejected rows written to `path` as an ingest finds them, none held: the file is made
    at the first (a file without rejects gets none) and removed again if the ingest fails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: TextIO | None = None

    def __enter__(self) -> "RejectsFile":
        return self

    def __call__(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        if self.handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("w", newline="", encoding="utf-8")
            csv.writer(self.handle).writerow(["line", "field", "error"])
        csv.writer(self.handle).writerows((r.line, r.field, r.error) for r in rejections)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self.handle is not None:
            self.handle.close()
            if kind is not None:  # nothing was stored: no rejects to show for it
                self.path.unlink()

    @property
    def written(self) -> bool:
        """Whether any rejected row was written."""
        return self.handle is not None


async def ingest_files(
    conn: Connection,
    settings: Settings,
    jobs: list[tuple[str, Path]],
    source_format: str | None,
    rejects_dir: Path,
    since: datetime | None = None,
    stop_on_error: bool = False,
) -> int:
    """Ingest each (feed, file), one transaction per file; return how many files failed.

    A file that fails is reported in one line (no traceback) and the next one goes on, unless
    `stop_on_error`."""
    feeds = load_feeds(settings.ingest.feeds_dir, settings.city.time_zone)
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
            task = progress.add_task(f"{path.name} → {feed}", total=path.stat().st_size)
            rejects = RejectsFile(rejects_dir / f"{path.name}.rejects.csv")
            try:
                with path.open("rb") as source, rejects:  # read piece by piece
                    report = await ingest(
                        conn,
                        feeds[feed],
                        source,
                        encoding=ENCODINGS.get(path.suffix.lower(), "csv"),
                        source_format=source_format,
                        resolution=settings.ingest.h3_resolution,
                        bucket_seconds=settings.database.rollup_bucket_seconds,
                        on_progress=lambda done, task=task: progress.update(task, completed=done),
                        city_zone=feeds.city_zone,
                        window=ingest_window(settings, since),
                        keep_rejects=settings.api.rejects_listed,
                        limits=settings.ingest.read_limits(),
                        on_rejects=rejects,
                    )
            except Exception as exc:
                known = translate(exc)
                reason = known if known is not None else f"unexpected {type(exc).__name__}: {exc}"
                console.print(f"[red]{path}: nothing stored:[/red] {reason}", highlight=False)
                failures += 1
                if stop_on_error:
                    break
                continue
            finally:
                progress.remove_task(task)
            totals = report.as_dict(listed=0)
            line = (
                f"{path} → {feed}: read {report.read}, loaded {report.loaded}, "
                f"duplicates {report.duplicates}, rejected {totals['rejected_total']}, "
                f"flagged {totals['flagged_total']}"
            )
            if report.stations:
                line += f", stations {report.stations}"
            if rejects.written:
                line += f" (rejects in {rejects.path})"
            out.print(line)
            for warning in report.warnings:
                out.print(f"  warning: {warning}", markup=False)
    return failures


async def _ingest_command(
    settings: Settings, jobs: list[tuple[str, Path]], source_format: str | None, **options: object
) -> int:
    async with store_connection(settings) as conn:
        failures = await ingest_files(conn, settings, jobs, source_format, **options)
        # A batch tool: its loads' rollup deltas are folded now, not left for a server.
        await compact_rollups(conn, settings.database.rollup_bucket_seconds)
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
    since: Annotated[
        str | None,
        typer.Option(
            help="A historical back-load: accept readings from this ISO 8601 time on "
            "(default: CITYTWIN_ACCEPT_PAST_DAYS before now).",
        ),
    ] = None,
    stop_on_error: Annotated[
        bool, typer.Option(help="Stop at the first file that fails (default: go on).")
    ] = False,
) -> None:
    """Ingest files into a feed: each file lands whole (its good rows) or not at all."""
    settings = Settings()
    try:
        failures = asyncio.run(
            _ingest_command(
                settings,
                [(feed, path) for path in files],
                source_format,
                rejects_dir=rejects_dir or settings.database.state_dir / "rejects",
                since=parse_time(since, "--since"),
                stop_on_error=stop_on_error,
            )
        )
    except CityTwinError as exc:
        fail(exc)
    if failures:
        raise typer.Exit(1)
