"""What every `citytwin` command shares: the Typer app, the consoles, failing with a
message, and a prepared store."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import typer
from rich.console import Console

from citytwin.db.connect import resolve_database_url
from citytwin.db.feeds import sync_feeds
from citytwin.db.migrate import migrate
from citytwin.db.pool import Connection, connect
from citytwin.feeds import load_feeds
from citytwin.settings import Settings

app = typer.Typer(
    help="citytwin: city sensor feeds on H3 cells in PostGIS, served by an API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # progress and errors
out = Console(soft_wrap=True)  # results


def fail(error: Exception) -> None:
    console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(1)


async def prepare_store(settings: Settings) -> str:
    """Start the store if it is embedded, migrate it, sync feed definitions; return its URL."""
    url = await resolve_database_url(settings)
    conn = await connect(url)
    try:
        await migrate(conn, settings)
        await sync_feeds(conn, load_feeds(settings.ingest.feeds_dir))
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


HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on.")]
