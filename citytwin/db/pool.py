"""The asyncpg pool: orjson codecs and UTC sessions on every connection."""

import asyncpg
import orjson

# The connection type other layers name, so that only `db/` imports asyncpg.
Connection = asyncpg.Connection
Pool = asyncpg.Pool
Record = asyncpg.Record


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class BoundedPool(asyncpg.Pool):
    """A pool whose `acquire` gives up after `acquire_timeout` seconds (TimeoutError) unless
    told otherwise: a request never waits for a connection without end."""

    acquire_timeout: float | None = None

    def acquire(self, *, timeout: float | None = None) -> object:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    url: str,
    min_size: int = 1,
    max_size: int = 10,
    read_only: bool = False,
    acquire_timeout: float | None = None,
) -> asyncpg.Pool:
    """A pool whose sessions run in UTC with JSON decoded by orjson; `read_only` sessions
    refuse every write in PostgreSQL itself; `acquire_timeout` bounds each wait for a
    connection."""
    settings = {"timezone": "UTC", "application_name": "citytwin"}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    # asyncpg.create_pool's own arguments, with its defaults, on the bounded class.
    pool = BoundedPool(
        url,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        init=_init_connection,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=settings,
    )
    pool.acquire_timeout = acquire_timeout
    return await pool


async def connect(url: str) -> asyncpg.Connection:
    """One connection set up like the pool's (for the CLI and benchmarks)."""
    conn = await asyncpg.connect(
        url, server_settings={"timezone": "UTC", "application_name": "citytwin"}
    )
    await _init_connection(conn)
    return conn
