"""Which database to use: the external `CITYTWIN_DATABASE_URL`, or the embedded cluster."""

import asyncpg

from citytwin.db import embedded
from citytwin.errors import DatabaseUnavailable
from citytwin.settings import Settings


async def create_database_if_missing(admin_url: str, name: str) -> None:
    """CREATE DATABASE `name` unless it exists (CREATE DATABASE cannot run in a transaction)."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def resolve_database_url(settings: Settings) -> str:
    """The URL to connect to; starts the embedded cluster when no external one is set."""
    if settings.database.database_url:
        return settings.database.database_url
    cluster = embedded.cluster_for(settings)
    embedded.start(cluster)
    try:
        await create_database_if_missing(cluster.admin_url(), cluster.database)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"embedded cluster at {cluster.url}: {exc}") from exc
    return cluster.url
