"""Versioned SQL migrations (`db/migrations/NNN_name.sql`), applied once each, in order."""

from importlib import resources

import asyncpg

from citytwin.errors import CityTwinError
from citytwin.settings import Settings

MIGRATION_LOCK = 7_402_117  # pg_advisory_lock key: one migrator at a time


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package."""
    folder = resources.files("citytwin.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(version), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: asyncpg.Connection, settings: Settings) -> list[str]:
    """Apply the migrations not applied yet; return their names. Safe to run concurrently."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")
        }
        done = []
        for version, name, sql in migration_files():
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            done.append(f"{version:03d}_{name}")
        await _check_store_config(conn, settings)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def check_schema(conn: asyncpg.Connection, settings: Settings) -> None:
    """For a read-only instance (a replica): the schema is migrated and configured as this
    code expects, checked without writing anything."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = (
        {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        if exists
        else set()
    )
    missing = [f"{v:03d}_{name}" for v, name, _ in migration_files() if v not in applied]
    if missing:
        raise CityTwinError(
            f"the database lacks migrations {', '.join(missing)}; a read-only instance cannot "
            "apply them: migrate the primary (`citytwin db migrate`)"
        )
    stored = dict(await conn.fetch("SELECT key, value FROM store_config"))
    for key, value in _store_config(settings).items():
        if stored.get(key) != value:
            raise CityTwinError(f"the store has {key}={stored.get(key)}, this instance {value}")


def _store_config(settings: Settings) -> dict[str, str]:
    return {
        "h3_resolution": str(settings.ingest.h3_resolution),
        "rollup_bucket_seconds": str(settings.database.rollup_bucket_seconds),
    }


async def _check_store_config(conn: asyncpg.Connection, settings: Settings) -> None:
    # Rollups are keyed by the base resolution and bucket: they cannot change under stored data.
    wanted = _store_config(settings)
    for key, value in wanted.items():
        await conn.execute(
            "INSERT INTO store_config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            key,
            value,
        )
    stored = dict(await conn.fetch("SELECT key, value FROM store_config"))
    for key, value in wanted.items():
        if stored[key] != value:
            raise CityTwinError(
                f"the store was created with {key}={stored[key]} but "
                f"CITYTWIN_{key.upper()}={value}; use a new database or the stored value"
            )
