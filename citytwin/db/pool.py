"""The asyncpg pool: orjson codecs and UTC sessions on every connection."""

import asyncpg
import orjson

# The connection type other layers name, so that only `db/` imports asyncpg.
Connection = asyncpg.Connection
Pool = asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(
    url: str, min_size: int = 1, max_size: int = 10, read_only: bool = False
) -> asyncpg.Pool:
    """A pool whose sessions run in UTC with JSON decoded by orjson; `read_only` sessions
    refuse every write in PostgreSQL itself."""
    settings = {"timezone": "UTC", "application_name": "citytwin"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    return await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, server_settings=settings
    )


async def connect(url: str) -> asyncpg.Connection:
    """One connection set up like the pool's (for the CLI and benchmarks)."""
    conn = await asyncpg.connect(
        url, server_settings={"timezone": "UTC", "application_name": "citytwin"}
    )
    await _init_connection(conn)
    return conn
