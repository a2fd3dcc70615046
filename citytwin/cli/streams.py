"""`citytwin listen`, `retention` and `deadletter`: live feeds and what they leave."""

import asyncio
from typing import Annotated

import typer

from citytwin.cli.common import (
    app,
    console,
    fail,
    out,
    prepare_store,
    store_connection,
)
from citytwin.db import dead_letters
from citytwin.db.pool import connect, create_pool
from citytwin.errors import CityTwinError
from citytwin.feeds import load_feeds
from citytwin.services.compaction import scheduled_compaction
from citytwin.services.push import replay
from citytwin.settings import Settings


async def _listen(settings: Settings) -> None:
    from citytwin.stream.listener import listen

    url = await prepare_store(settings)
    # The listener's loads append rollup deltas: fold them as the server would.
    pool = await create_pool(url, min_size=0, max_size=1)
    try:
        every = settings.database.rollup_compact_seconds
        async with scheduled_compaction(pool, settings.database.rollup_bucket_seconds, every):
            await listen(settings, load_feeds(settings.ingest.feeds_dir), lambda: connect(url))
    finally:
        await pool.close()


@app.command("listen")
def listen_command() -> None:
    """Run the configured sources (CITYTWIN_LISTEN_SOURCES: the MQTT broker of CITYTWIN_MQTT_*,
    the OPC UA servers of the feeds) and store what they deliver as readings."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_listen(Settings()))
    except (CityTwinError, OSError) as exc:  # OSError: no database to start with
        fail(exc)


retention_app = typer.Typer(
    help="Retention: drop readings and rollups beyond each feed's policy.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")


def _confirmed(question: str) -> bool:
    """The operator's answer; no answer (no terminal, end of input) is a no."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        return False


async def _retention(settings: Settings, now: str | None, dry_run: bool, yes: bool) -> None:
    from datetime import UTC, datetime

    from citytwin.db.retention import apply_retention, carry_out
    from citytwin.query.params import parse_time

    clock = parse_time(now, "--now") or datetime.now(UTC)
    async with store_connection(settings) as conn:
        # The plan is shown first; what is applied is exactly the plan shown.
        run = await apply_retention(
            conn, load_feeds(settings.ingest.feeds_dir), clock, dry_run=True
        )
        for line in run.lines():
            out.print(line, markup=False)
        if dry_run:
            return
        if not run.drops_anything:
            out.print("nothing to drop")
            return
        if not yes and not _confirmed("Drop and delete the above?"):
            out.print("nothing dropped (answer y, or pass --yes)")
            raise typer.Exit(1)
        done = await carry_out(conn, run)
    for line in done.lines():
        out.print(line, markup=False)


@retention_app.command("apply")
def retention_apply(
    dry_run: Annotated[bool, typer.Option(help="Say what would go; change nothing.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply without asking (scripts, cron).")
    ] = False,
    now: Annotated[
        str | None, typer.Option(help="ISO 8601 time to apply the policies at (default: now).")
    ] = None,
) -> None:
    """Show what is beyond each feed's policy (whole readings months, rollup days), then drop it
    once confirmed (or with --yes)."""
    try:
        asyncio.run(_retention(Settings(), now, dry_run, yes))
    except CityTwinError as exc:
        fail(exc)


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
        fail(exc)


async def _replay(settings: Settings, letter_id: int) -> dict[int, list[str]]:
    async with store_connection(settings) as conn:
        result = await replay(
            conn,
            load_feeds(settings.ingest.feeds_dir),
            letter_id,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
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
        fail(exc)
    for item, reasons in errors.items():
        console.print(f"[red]item {item}:[/red] {'; '.join(reasons)}")
    if errors:
        raise typer.Exit(1)
