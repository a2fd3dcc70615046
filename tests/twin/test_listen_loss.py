"""The service's LISTEN connection dropped (a PostgreSQL restart, a proxy timeout): while it is
away no tile version is trusted, it comes back by itself, and loads by other processes reach
warm tiles again through the new connection."""

import asyncio
import logging

import morecantile

from citytwin.api.app import create_app
from citytwin.services.ingest import ingest
from tests.asgi import asgi_client
from tests.factories import STATIONS, air_rows, post_readings, to_csv

TMS = morecantile.tms.get("WebMercatorQuad")
TILE = TMS.tile(*STATIONS["S1"], 13)
URL = f"/tiles/cells/{TILE.z}/{TILE.x}/{TILE.y}.mvt"
# A listener's last statement, once listening (other apps of the session may listen too).
LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND query = 'SELECT coalesce(max(id), 0) FROM twin_events'"
)


async def listeners(conn) -> set[int]:
    return {row["pid"] for row in await conn.fetch(LISTENERS)}


async def load_elsewhere(conn, feeds, settings, time: str) -> None:
    """A load that does not go through the app (as the CLI or the MQTT listener load)."""
    body = f"sensor_id,lon,lat,time,variable,value\nS1,9.5209,47.141,{time},no2,3\n"
    report = await ingest(
        conn,
        feeds["air"],
        body.encode(),
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    assert report.loaded == 1


async def etag(client) -> str:
    return (await client.get(URL, params={"variable": "no2"})).headers["etag"]


async def until(condition, what: str, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_a_lost_listen_connection_is_replaced_and_no_tile_goes_stale(
    conn, feeds, settings, caplog
):
    caplog.set_level(logging.WARNING, logger="citytwin.twin")
    others = await listeners(conn)
    app = create_app(settings)
    async with asgi_client(app) as client:
        versions = app.state.tile_versions
        await post_readings(client, to_csv(air_rows(hours=24)))
        before = await etag(client)
        assert versions.live() and await etag(client) == before  # warm, held in memory
        (old,) = await listeners(conn) - others
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", old)

        async def lost() -> bool:
            return not versions.live()

        await until(lost, "the listener did not notice its connection went")
        # Announcements cannot arrive now: versions are asked from the database, so a load
        # elsewhere shows at once.
        await load_elsewhere(conn, feeds, settings, "2026-11-06T05:00:00Z")
        if versions.live():  # a slow machine: the new connection is back already, and the
            # load's announcement reaches it a moment later
            async def announced() -> bool:
                return await etag(client) != before

            await until(announced, "the load was not announced to the new connection")
        during = await etag(client)
        assert during != before

        async def back() -> bool:
            pids = await listeners(conn) - others
            return versions.live() and len(pids) == 1 and old not in pids

        await until(back, "the listener did not reconnect within 5 s")
        warm = await etag(client)
        assert warm == during and await etag(client) == warm
        await load_elsewhere(conn, feeds, settings, "2026-11-06T06:00:00Z")

        async def renewed() -> bool:
            return await etag(client) != warm

        await until(renewed, "a load after the reconnect did not reach the warm tile", 2.0)
    assert "twin event listener lost its connection; reconnecting" in caplog.messages
