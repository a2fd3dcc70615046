"""Sources as one concept: a toy source registered in a few lines, and HTTP push as a sibling of
MQTT (micro-batched, dead letters, answered after commit, waiting while the database is away)."""

import asyncio

import orjson
import pytest

from citytwin.db.pool import connect
from citytwin.errors import InvalidParameter
from citytwin.stream import source as source_module
from citytwin.stream.http_push import HttpPushSource
from citytwin.stream.listener import Listener
from citytwin.stream.source import Message, Source, configured_sources, register
from tests.stream.conftest import FlakyStore, until


def reading(sensor: str, value: float, time: str = "2026-11-20T10:00:00Z") -> dict:
    return {"sensor_id": sensor, "lon": 9.52, "lat": 47.14, "time": time,
            "variable": "pm25", "value": value, "unit": "µg/m³"}  # fmt: skip


class Counter(Source):
    """A toy source: three readings of a counter, then nothing."""

    kind, delivers = "counter", "canonical readings of a counter"

    async def start(self, sink) -> None:
        for value in (1, 2, 3):
            body = orjson.dumps(reading("toy", value, f"2026-11-20T0{value}:00:00Z"))
            sink.deliver(Message(self, "counter/toy", body, "air"))
        sink.ready_source(self)

    async def stop(self) -> None:
        self.status.state = "stopped"


async def test_a_toy_source_registers_and_its_readings_are_stored(
    settings, feeds, conn, monkeypatch
):
    monkeypatch.setitem(source_module.SOURCE_KINDS, "counter", None)
    register("counter")(lambda settings, feeds: [Counter("toy counter")])
    configured = settings.updated(listen_sources=["counter"], mqtt_batch_ms=20)
    listener = Listener(configured, feeds, lambda: connect(settings.database.database_url))
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 5)
    await until(lambda: listener.stats.acked == 3)
    listener.stop()
    await task
    values = await conn.fetch("SELECT value FROM readings ORDER BY time")
    assert [r["value"] for r in values] == [1.0, 2.0, 3.0]
    health = listener.health()["toy counter"]
    assert (health["state"], health["acked"]) == ("stopped", 3)


def test_an_unknown_source_kind_names_the_setting(settings, feeds):
    with pytest.raises(InvalidParameter, match="listen_sources: unknown source 'modbus'"):
        configured_sources(settings, feeds, ["mqtt", "modbus"])


async def test_http_pushes_are_batched_answered_after_commit_and_wait_for_the_database(
    settings, feeds, conn
):
    store = FlakyStore(settings.database.database_url)
    push = HttpPushSource()
    configured = settings.updated(mqtt_batch_ms=50)
    listener = Listener(configured, feeds, store, sources=[push])
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 5)
    bodies = [orjson.dumps(reading(f"h{i}", 10 + i)) for i in range(5)] + [b"{not json"]
    answers = asyncio.gather(*(push.push("air", body) for body in bodies))
    await until(lambda: store.attempts >= 2)  # the database is away: nobody is answered yet
    assert not answers.done()
    store.up = True
    assert await asyncio.wait_for(answers, 15) == [True] * 6
    listener.stop()
    await task
    assert listener.stats.batches == 1  # six concurrent pushes, one batch
    assert await conn.fetchval("SELECT count(*) FROM readings") == 5
    letter = await conn.fetchrow("SELECT feed, format, reason FROM dead_letters")
    assert (letter["feed"], letter["format"]) == ("air", "http")
    assert letter["reason"].startswith("not valid JSON")
    assert push.health().as_dict()["acked"] == 6


async def test_the_sources_health_is_in_the_twin_state_while_running_and_once_stopped(
    settings, feeds, client
):
    push = HttpPushSource("push gateway")
    listener = Listener(
        settings,
        feeds,
        lambda: connect(settings.database.database_url),
        sources=[push],
        health_every=0.05,
    )
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 5)
    assert await push.push("air", orjson.dumps(reading("g1", 12.5)))

    async def written() -> dict:
        sources = (await client.get("/twin/state")).json()["sources"]
        return next((s for s in sources if s["name"] == "push gateway"), {})

    for _ in range(250):  # written every 0.05 s: within a few tries
        if (running := await written()).get("acked") == 1:
            break
        await asyncio.sleep(0.02)
    assert (running["kind"], running["state"], running["received"]) == ("http", "connected", 1)
    assert 0 <= running["age_seconds"] < 5
    listener.stop()
    await task
    stopped = await written()
    assert (stopped["state"], stopped["acked"]) == ("stopped", 1)
