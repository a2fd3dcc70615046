"""NGSI-LD subscriptions: a test HTTP server (real uvicorn) receives the notification the API
sends after a load changes a watched entity; a subscriber that never answers is marked failed."""

import asyncio
import copy
import socket

import pytest
from fastapi import FastAPI, Request

from citytwin.api.app import create_app
from tests.asgi import asgi_client
from tests.factories import API_KEY
from tests.live.entities import AIR
from tests.live_server import serve

KEY = {"X-API-Key": API_KEY}
SUBSCRIPTIONS = "/ngsi-ld/v1/subscriptions"


@pytest.fixture
async def receiver():
    """A server that keeps every notification posted to /notify."""
    received: list[dict] = []
    app = FastAPI()

    @app.post("/notify")
    async def notify(request: Request) -> dict:
        received.append(await request.json())
        return {}

    async with serve(app) as url:
        yield url, received


@pytest.fixture
async def api(settings, pool, conn):
    async with asgi_client(create_app(settings)) as client:
        client.app_state = client._transport.app.state
        yield client


def subscription(endpoint: str, **extra: object) -> dict:
    return {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "watchedAttributes": ["no2"],
        "notification": {"endpoint": {"uri": endpoint}, "format": "keyValues"},
        **extra,
    }


def air(value: float, hour: int) -> dict:
    entity = copy.deepcopy(AIR)
    entity["no2"] = {"type": "Property", "value": value, "unitCode": "GQ"}
    entity["dateObserved"]["value"]["@value"] = f"2026-11-02T{hour:02d}:00:00Z"
    del entity["pm25"]
    return entity


async def upsert(api, entity: dict) -> None:
    answer = await api.post("/ngsi-ld/v1/entityOperations/upsert", json=[entity], headers=KEY)
    assert answer.status_code == 201, answer.text


async def eventually(check, seconds: float = 10.0):
    for _ in range(int(seconds / 0.05)):
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


async def test_a_load_notifies_the_subscriber(api, receiver):
    url, received = receiver
    created = await api.post(SUBSCRIPTIONS, json=subscription(f"{url}/notify"), headers=KEY)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    await upsert(api, air(31.5, 10))

    async def arrived():
        return received

    [note] = await eventually(arrived)
    assert note["type"] == "Notification"
    assert note["subscriptionId"] == location.rsplit("/", 1)[1]
    [entity] = note["data"]
    assert (entity["id"], entity["no2"]) == (AIR["id"], 31.5)
    assert entity["location"] == {"type": "Point", "coordinates": [9.5209, 47.141]}

    async def counted():
        document = (await api.get(location, headers=KEY)).json()
        return document if document["notification"]["timesSent"] else None

    listed = await eventually(counted)  # counted once the subscriber answered
    assert (listed["status"], listed["notification"]["timesSent"]) == ("active", 1)
    assert (await api.delete(location, headers=KEY)).status_code == 204
    assert (await api.get(location, headers=KEY)).status_code == 404


async def test_a_dead_subscriber_is_marked_failed_and_loads_go_on(api):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
    port = closed.getsockname()[1]
    api.app_state.notifier.backoff = 0.01
    created = await api.post(
        SUBSCRIPTIONS, json=subscription(f"http://127.0.0.1:{port}/notify"), headers=KEY
    )
    location = created.headers["location"]
    for hour in (10, 11, 12):
        await upsert(api, air(20.0 + hour, hour))  # each load answers at once
        await asyncio.sleep(0.3)

    async def failed():
        document = (await api.get(location, headers=KEY)).json()
        return document if document["status"] == "failed" else None

    document = await eventually(failed)
    assert document["notification"]["timesSent"] == 0
    assert "lastFailure" in document["notification"]
    closed.close()


@pytest.mark.parametrize(
    ("body", "member"),
    [
        ({"type": "Subscription", "notification": {"endpoint": {"uri": "http://x"}}}, "entities"),
        (subscription("ftp://x/notify"), "notification.endpoint.uri"),
        ({"type": "Nonsense"}, "type"),
    ],
)
async def test_bad_subscriptions_name_the_member(api, body, member):
    answer = await api.post(SUBSCRIPTIONS, json=body, headers=KEY)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(f"{member}:")


async def test_subscriptions_need_a_key(api):
    assert (await api.get(SUBSCRIPTIONS)).status_code == 401
