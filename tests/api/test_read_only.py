"""A read-only instance (as in front of a replica): starts without writing, serves reads, and
refuses writes both in the API and in PostgreSQL."""

import asyncpg
import pytest

from citytwin.api.app import create_app
from citytwin.db.migrate import check_schema
from citytwin.errors import CityTwinError
from tests.asgi import asgi_client
from tests.factories import API_KEY, air_rows, post_readings, to_csv


async def test_a_read_only_instance_reads_and_refuses_writes(settings, client, conn):
    await post_readings(client, air_rows(hours=2))
    app = create_app(settings.updated(read_only=True))
    async with asgi_client(app, "http://replica") as replica:
        cells = await replica.get("/cells", params={"variable": "no2", "resolution": 7})
        assert cells.status_code == 200
        assert sum(f["properties"]["count"] for f in cells.json()["features"]) == 6
        write = await replica.post(
            "/feeds/air/readings",
            content=to_csv(air_rows(hours=1)),
            headers={"X-API-Key": API_KEY, "Content-Type": "text/csv"},
        )
        assert write.status_code == 405
        assert write.json()["detail"] == "this instance is read-only: send writes to the primary"
        async with app.state.pool.acquire() as session:
            assert await session.fetchval("SHOW default_transaction_read_only") == "on"
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await session.execute("DELETE FROM readings")
    assert await conn.fetchval("SELECT count(*) FROM readings") == 12


async def test_a_read_only_instance_needs_a_migrated_schema(settings, conn):
    await check_schema(conn, settings)  # the test database is migrated
    latest = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    undo = conn.transaction()
    await undo.start()
    try:
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", latest)
        with pytest.raises(CityTwinError, match=f"lacks migrations {latest:03d}_"):
            await check_schema(conn, settings)
    finally:
        await undo.rollback()
