"""Keys per feed, and the platforms' payloads on `POST /feeds/{feed}/readings`."""

import httpx
import orjson
import pytest

from citytwin.api.app import create_app
from tests.asgi import asgi_client
from tests.factories import API_KEY
from tests.live.entities import AIR, TRAFFIC, sta_datastream

AIR_KEY = "air-only"
UPSERT = "/ngsi-ld/v1/entityOperations/upsert"


@pytest.fixture(scope="module")
async def keyed(settings, pool):
    """The app with a service key and a key for the air feed only."""
    app = create_app(settings.updated(feed_api_keys={"air": [AIR_KEY]}))
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def client(keyed, conn):
    return keyed


def reading(**changes) -> dict:
    row = {"sensor_id": "J1", "lon": 9.52, "lat": 47.14, "time": "2026-11-02T08:00:00Z"}
    return row | {"variable": "no2", "value": 21.5, "unit": "µg/m³"} | changes


async def test_a_feed_key_writes_to_its_feed_only(client, conn):
    air = await client.post("/feeds/air/readings", json=reading(), headers={"X-API-Key": AIR_KEY})
    assert air.status_code == 200, air.text
    assert (air.json()["read"], air.json()["loaded"]) == (1, 1)
    traffic = await client.post(
        "/feeds/traffic/readings",
        content=b"sensor_id,lon,lat,time,variable,value,unit\n",
        headers={"X-API-Key": AIR_KEY, "Content-Type": "text/csv"},
    )
    assert traffic.status_code == 403
    assert traffic.json()["detail"] == "this key may write to air only, not to feed 'traffic'"
    upsert = await client.post(UPSERT, json=[AIR, TRAFFIC], headers={"X-API-Key": AIR_KEY})
    assert upsert.status_code == 403  # the batch holds traffic: none of it is stored
    assert await conn.fetchval("SELECT count(*) FROM readings") == 1
    assert (
        await client.post(UPSERT, json=[AIR], headers={"X-API-Key": AIR_KEY})
    ).status_code == 201
    scenario = await client.post("/scenarios", content=b"name: x", headers={"X-API-Key": AIR_KEY})
    assert scenario.status_code == 403  # scenario runs need a service key
    assert scenario.json()["detail"] == "this key writes to its feeds only; use a service key"
    assert await conn.fetchval("SELECT count(*) FROM scenario_runs") == 0
    letters = await client.get("/deadletters", headers={"X-API-Key": AIR_KEY})
    assert (letters.status_code, letters.json()["detail"]) == (403, scenario.json()["detail"])


async def test_canonical_json_ngsi_ld_and_sensorthings_on_the_feed_route(client, conn):
    key = {"X-API-Key": API_KEY}
    rows = [reading(), reading(time="2026-11-02T09:00:00Z", value=-30)]
    canonical = await client.post("/feeds/air/readings", json=rows, headers=key)
    assert canonical.status_code == 200
    assert canonical.json()["rejected"] == [
        {"item": 2, "errors": ["value: -30 is outside the plausible range 0..1000"]}
    ]
    letter = await conn.fetchrow("SELECT feed, format, payload FROM dead_letters")
    assert (letter["feed"], letter["format"]) == ("air", "canonical")
    assert orjson.loads(letter["payload"])["value"] == -30  # kept to replay once fixed
    ngsi = await client.post(
        "/feeds/air/readings",
        content=httpx.Request("POST", "/", json=[AIR]).content,
        headers={**key, "Content-Type": "application/ld+json"},
    )
    assert ngsi.status_code == 200, ngsi.text
    assert ngsi.json()["feeds"]["air"]["loaded"] == 2  # no2 (from ppb) and pm25
    wrong_feed = await client.post(
        "/feeds/air/readings",
        content=httpx.Request("POST", "/", json=[TRAFFIC]).content,
        headers={**key, "Content-Type": "application/ld+json"},
    )
    assert wrong_feed.status_code == 400
    assert wrong_feed.json()["detail"] == "items map to feed 'traffic', not 'air'"
    observation = {"phenomenonTime": "2026-11-02T10:00:00Z", "result": 30.0}
    observation["Datastream"] = sta_datastream()
    sta = await client.post(
        "/feeds/air/readings?format=sta-observation", json=observation, headers=key
    )
    assert sta.status_code == 200, sta.text
    assert sta.json()["loaded"] == 1
    count = await conn.fetchval(
        "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE feed = 'air'"
    )
    assert count == 1 + 2 + 1
