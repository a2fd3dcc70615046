"""Orange's NGSI-LD client (ngsildclient, PyPI), not written by us, over real HTTP: it writes
Smart Data Models entities through the batch upsert, and reads back those and what a CSV push
stored — same values, same times."""

import asyncio
import copy
from urllib.parse import urlsplit

import httpx
import pytest
from ngsildclient import Client, Entity

from citytwin.api.app import create_app
from tests.factories import API_KEY
from tests.live.entities import AIR
from tests.live_server import serve

CSV = """sensor_id,lon,lat,time,variable,value,unit
AQ-csv,9.5209,47.1412,2026-11-02T08:00:00Z,pm25,7.5,µg/m³
AQ-csv,9.5209,47.1412,2026-11-02T09:00:00Z,pm25,9.25,µg/m³
"""


@pytest.fixture(scope="module")
async def ld_url(settings, pool):
    async with serve(create_app(settings)) as url:
        yield url


def connect(url: str) -> Client:
    parts = urlsplit(url)
    client = Client(hostname=parts.hostname, port=parts.port)
    client.session.headers["X-API-Key"] = API_KEY
    return client


async def test_ngsildclient_reads_back_upserts_and_csv(ld_url, conn):
    client = await asyncio.to_thread(connect, ld_url)
    written = copy.deepcopy(AIR)
    written["no2"] = {"type": "Property", "value": 31.5, "unitCode": "GQ"}
    ok, answer = await asyncio.to_thread(client.batch.upsert, [Entity.from_dict(written)])
    assert ok, answer
    async with httpx.AsyncClient(base_url=ld_url) as http:
        pushed = await http.post(
            "/feeds/air/readings",
            content=CSV.encode(),
            headers={"Content-Type": "text/csv", "X-API-Key": API_KEY},
        )
        assert pushed.status_code == 200, pushed.text

    entity = await asyncio.to_thread(client.get, AIR["id"], asdict=True)
    assert entity["type"] == "AirQualityObserved"
    assert entity["no2"]["value"] == 31.5
    assert entity["no2"]["observedAt"] == "2026-11-02T10:00:00Z"
    assert entity["pm25"]["value"] == 12.5
    assert entity["pm25"]["observedAt"] == "2026-11-02T10:05:00Z"

    from_csv = await asyncio.to_thread(
        client.get, "urn:ngsi-ld:AirQualityObserved:AQ-csv", asdict=True
    )
    assert (from_csv["pm25"]["value"], from_csv["pm25"]["observedAt"]) == (
        9.25,
        "2026-11-02T09:00:00Z",
    )
    assert await asyncio.to_thread(client.count, type="AirQualityObserved") == 2
    high = await asyncio.to_thread(client.entities.query, type="AirQualityObserved", q="pm25>10")
    assert [e.id for e in high] == [AIR["id"]]
    async with httpx.AsyncClient(base_url=ld_url) as http:
        series = await http.get(
            "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:AQ-csv",
            params={"attrs": "pm25", "options": "temporalValues"},
        )
    assert series.json()["pm25"]["values"] == [
        [7.5, "2026-11-02T08:00:00Z"],
        [9.25, "2026-11-02T09:00:00Z"],
    ]
    client.close()
