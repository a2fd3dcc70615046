"""The database stopped under a running service: reads and writes answer 503 with a JSON body
and a Retry-After; once it is back, the same requests succeed without a restart."""

import asyncio

from citytwin.api.app import create_app
from tests.asgi import asgi_client
from tests.factories import API_KEY
from tests.robustness.proxy import DatabaseProxy

CSV = "sensor_id,lon,lat,time,variable,value\nD1,9.52,47.14,2026-11-02T00:00:00Z,no2,30\n"
WRITE = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}


async def test_database_down_is_503_json_and_recovers(settings, conn):
    proxy = DatabaseProxy(settings.database.database_url)
    await proxy.restore()
    app = create_app(settings.updated(database_url=proxy.url, pool_timeout=2))
    async with asgi_client(app) as client:
        assert (await client.get("/sensors")).status_code == 200
        await proxy.cut()
        for answer in (
            await client.get("/sensors"),
            await client.get("/readings?variable=no2"),
            await client.post("/feeds/air/readings", content=CSV, headers=WRITE),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "DatabaseUnavailable"
            assert answer.headers["retry-after"] == "5"
        await proxy.restore()
        for _ in range(50):  # the pool reconnects on the next acquire
            answer = await client.post("/feeds/air/readings", content=CSV, headers=WRITE)
            if answer.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert answer.json()["loaded"] == 1
        assert (await client.get("/sensors")).json()["features"][0]["properties"][
            "external_id"
        ] == "D1"
        await proxy.cut()
