"""`citytwin db`: the embedded cluster, migrations and rollup compaction."""

import asyncio

import typer

from citytwin.cli.common import (
    app,
    console,
    fail,
    prepare_store,
    store_connection,
)
from citytwin.db import embedded
from citytwin.db.compaction import compact_rollups
from citytwin.db.connect import resolve_database_url
from citytwin.db.migrate import migrate
from citytwin.db.pool import connect
from citytwin.errors import CityTwinError
from citytwin.settings import Settings

db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("start")
def db_start() -> None:
    """Create (first time) and start the embedded PostGIS cluster, and migrate it."""
    settings = Settings()
    if settings.database.database_url:
        fail(CityTwinError("CITYTWIN_DATABASE_URL is set: citytwin uses that server, starts none"))
    try:
        url = asyncio.run(prepare_store(settings))
    except CityTwinError as exc:
        fail(exc)
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
    if settings.database.database_url:
        console.print(f"external database: {settings.database.database_url}")
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
        fail(exc)
    console.print(f"applied: {', '.join(applied)}" if applied else "up to date")


@db_app.command("compact")
def db_compact() -> None:
    """Fold the rollup deltas that loads appended into the day rows (the server does it every
    CITYTWIN_ROLLUP_COMPACT_SECONDS)."""

    async def run() -> int:
        async with store_connection(settings) as conn:
            return await compact_rollups(conn, settings.database.rollup_bucket_seconds)

    settings = Settings()
    try:
        folded = asyncio.run(run())
    except CityTwinError as exc:
        fail(exc)
    console.print(f"folded {folded} delta rows into day rows")
