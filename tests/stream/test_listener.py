"""The listener against a real Mosquitto and real PostGIS: payloads, dead letters, redelivery,
the bound on held messages, and a broker restart while the database is away."""

import asyncio
import logging

import orjson
import pytest

from citytwin.api.app import create_app
from citytwin.stream import store as store_module
from tests.asgi import asgi_client
from tests.live.entities import AIR, sta_datastream
from tests.stream.conftest import (
    FlakyStore,
    listener_settings,
    numbered,
    published,
    reading,
    until,
)

READINGS = """
SELECT s.feed, s.external_id, v.name AS variable, r.time, r.value
FROM readings r JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id
ORDER BY s.external_id, v.name, r.time
"""


def ug(feeds, ppb: float) -> float:
    """NO2 ppb in µg/m³ as the air feed converts it (at its reference temperature)."""
    return pytest.approx(ppb * feeds["air"].conversion("no2", "ppb").scale)


async def test_canonical_ngsi_and_sensorthings_messages_are_stored_in_canonical_units(
    listening, broker, conn, feeds
):
    observation = {"phenomenonTime": "2026-11-20T10:00:00Z", "result": 5,
                   "Datastream": sta_datastream("NO2", "ppb", "sta-1")}  # fmt: skip
    data_array = [{"Datastream": sta_datastream("PM10", "mg/m3", "sta-2"),
                   "components": ["phenomenonTime", "result"],
                   "dataArray": [["2026-11-20T10:00:00Z", 0.02],
                                 ["2026-11-20T11:00:00Z", 0.03]]}]  # fmt: skip
    messages = [
        ("city/air/c1", reading("c1", 10)),  # ppb → µg/m³
        ("city/air/c2", [reading("c2", 0.012, "mg/m3", "pm25"),
                         reading("c2", 30, "ug/m3", "pm10")]),
        ("city/traffic/loop7", reading("loop7", 30, "mph", "speed")),
        ("city/air/ngsi", AIR),  # no2 20 ppb, pm25 12.5 GQ (µg/m³) observed at 10:05
        ("city/air/sta", observation),
        ("city/air/sta2", data_array),
    ]  # fmt: skip
    await published(broker.port, messages)
    await until(lambda: listening.stats.acked == len(messages))
    rows = [
        (r["feed"], r["external_id"], r["variable"], r["time"].isoformat(), r["value"])
        for r in await conn.fetch(READINGS)
    ]
    assert rows == [
        ("air", "c1", "no2", "2026-11-20T10:00:00+00:00", ug(feeds, 10)),
        ("air", "c2", "pm10", "2026-11-20T10:00:00+00:00", pytest.approx(30.0)),
        ("air", "c2", "pm25", "2026-11-20T10:00:00+00:00", pytest.approx(12.0)),
        ("traffic", "loop7", "speed", "2026-11-20T10:00:00+00:00", pytest.approx(48.28032)),
        ("air", "sta-1", "no2", "2026-11-20T10:00:00+00:00", ug(feeds, 5)),
        ("air", "sta-2", "pm10", "2026-11-20T10:00:00+00:00", pytest.approx(20.0)),
        ("air", "sta-2", "pm10", "2026-11-20T11:00:00+00:00", pytest.approx(30.0)),
        ("air", AIR["id"], "no2", "2026-11-02T10:00:00+00:00", ug(feeds, 20)),
        ("air", AIR["id"], "pm25", "2026-11-02T10:05:00+00:00", pytest.approx(12.5)),
    ]
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert (listening.stats.loaded, listening.stats.duplicates) == (9, 0)


async def test_bad_messages_become_dead_letters_and_the_stream_goes_on(
    listening, broker, conn, feeds
):
    weather = {"id": "urn:ngsi-ld:WeatherObserved:Vaduz", "type": "WeatherObserved",
               "temperature": {"type": "Property", "value": 4.2}}  # fmt: skip
    future = reading("late", 12, time="2099-01-01T00:00:00Z")
    messages = [
        ("city/air/g1", reading("g1", 1)),
        ("city/air/g2", reading("g2", 2)),
        ("city/air/truncated", b'{"sensor_id": "t", "time": "2026-11-20T10:00'),
        ("city/air/weather", weather),
        ("city/air/furlong", reading("f", 3, "furlong")),
        ("city/air/late", future),
        ("city/air/g3", reading("g3", 4)),
        ("city/air/g4", reading("g4", 5)),
    ]
    await published(broker.port, messages)
    await until(lambda: listening.stats.acked == len(messages))
    stored = await conn.fetch(READINGS)
    assert [(r["external_id"], r["value"]) for r in stored] == [
        ("g1", ug(feeds, 1)), ("g2", ug(feeds, 2)), ("g3", ug(feeds, 4)), ("g4", ug(feeds, 5)),
    ]  # fmt: skip
    letters = await conn.fetch("SELECT feed, format, reason, payload FROM dead_letters ORDER BY id")
    by_topic = {letter["reason"].rsplit("(topic ", 1)[1].rstrip(")"): letter for letter in letters}
    assert sorted(by_topic) == ["city/air/furlong", "city/air/late", "city/air/truncated",
                                "city/air/weather"]  # fmt: skip
    truncated = by_topic["city/air/truncated"]
    assert (truncated["feed"], truncated["format"]) == ("air", "mqtt")
    assert truncated["reason"].startswith("not valid JSON: unexpected end of data")
    assert bytes(truncated["payload"]) == messages[2][1]
    assert by_topic["city/air/weather"]["format"] == "ngsi-ld"
    assert (
        "no entity of a mapped type (got ['WeatherObserved']"
        in by_topic["city/air/weather"]["reason"]
    )
    furlong = by_topic["city/air/furlong"]
    assert furlong["reason"].startswith("unit: ") and "'furlong'" in furlong["reason"]
    assert orjson.loads(furlong["payload"]) == reading("f", 3, "furlong")
    late = by_topic["city/air/late"]
    assert late["reason"].startswith("time: '2099-01-01T00:00:00Z' is more than 300 s ahead")
    assert (late["feed"], late["format"]) == ("air", "canonical")
    assert listening.stats.dead_letters == 4


async def test_messages_sent_twice_are_stored_once(listening, broker, conn):
    messages = numbered(40)
    await published(broker.port, messages)
    await until(lambda: listening.stats.acked == 40)
    await published(broker.port, messages)
    await until(lambda: listening.stats.acked == 80)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 40
    assert (listening.stats.loaded, listening.stats.duplicates) == (40, 40)


async def test_a_message_stored_but_not_acknowledged_comes_again_and_counts_as_duplicate(
    listeners, broker, settings, conn
):
    configured = listener_settings(settings, broker)
    first = listeners.start(configured=configured)
    first._ack = lambda session, batch: None  # dies between commit and acknowledgement
    await asyncio.wait_for(first.ready.wait(), 10)
    await published(broker.port, numbered(25))
    await until(lambda: first.stats.stored == 25)
    await listeners.finish(first)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 25

    second = listeners.start(configured=configured)  # the same client id: the same session
    await until(lambda: second.stats.acked == 25)
    await listeners.finish(second)
    assert (second.stats.loaded, second.stats.duplicates) == (0, 25)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 25


async def test_held_messages_are_bounded_while_the_database_is_away(
    listeners, broker, settings, conn, caplog
):
    caplog.set_level(logging.INFO, logger="citytwin.listen")
    store = FlakyStore(settings.database.database_url)
    listener = listeners.start(store, mqtt_max_held=50, mqtt_batch_size=20)
    await asyncio.wait_for(listener.ready.wait(), 10)
    await published(broker.port, numbered(200))
    await until(lambda: listener.stats.received == 50 and store.attempts >= 3)
    await asyncio.sleep(0.3)  # the broker keeps the other 150: none comes
    held = listener.source("mqtt").held
    assert (listener.stats.received, held, listener.stats.acked) == (50, 50, 0)
    store.up = True
    await until(lambda: listener.stats.acked == 200)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        sum(w.startswith("holding 50 unacknowledged messages, 0.0 MiB (at most") for w in warnings)
        == 1
    )
    assert sum(w.startswith("database unavailable") for w in warnings) == 1


async def test_held_bytes_are_bounded_by_reading_no_more(
    listeners, broker, settings, conn, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="citytwin.listen")
    monkeypatch.setattr(settings.streams, "mqtt_max_held_bytes", 8_000)
    store = FlakyStore(settings.database.database_url)
    listener = listeners.start(store)
    await asyncio.wait_for(listener.ready.wait(), 10)
    messages = [
        (t, m | {"note": "x" * (1000 - len(orjson.dumps(m)) - 10)}) for t, m in numbered(60)
    ]
    assert {len(orjson.dumps(m)) for _, m in messages} == {1000}
    await published(broker.port, messages)
    await until(lambda: listener.stats.received == 8 and store.attempts >= 3)
    await asyncio.sleep(0.3)  # 8,000 bytes held: the network thread reads no more
    assert (listener.stats.received, listener.source("mqtt").held) == (8, 8)
    store.up = True
    await until(lambda: listener.stats.acked == 60)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 60
    assert any(
        r.getMessage().startswith("holding 8 unacknowledged messages, 0.0 MiB (at most")
        for r in caplog.records
    )


async def test_held_messages_survive_a_broker_restart_while_the_database_is_away(
    listeners, broker, settings, conn
):
    store = FlakyStore(settings.database.database_url)
    listener = listeners.start(store, mqtt_batch_size=30)
    await asyncio.wait_for(listener.ready.wait(), 10)
    await published(broker.port, numbered(60))
    await until(lambda: listener.stats.received == 60)
    listener.ready.clear()
    await asyncio.to_thread(broker.stop)  # unacknowledged: kept in the broker's session
    await asyncio.to_thread(broker.start)
    await asyncio.wait_for(listener.ready.wait(), 15)  # reconnected with back-off
    store.up = True
    await published(broker.port, numbered(90)[60:])
    await until(lambda: listener.stats.acked >= 90 and listener.source("mqtt").held == 0)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 90
    assert listener.stats.loaded == 90


async def test_the_listener_waits_for_a_broker_that_is_not_up_yet(listeners, broker, conn, caplog):
    caplog.set_level(logging.INFO, logger="citytwin.listen")
    await asyncio.to_thread(broker.stop)
    listener = listeners.start()
    await asyncio.sleep(0.5)  # the first attempt has failed; the next comes after 1 s
    await asyncio.to_thread(broker.start)
    await asyncio.wait_for(listener.ready.wait(), 10)
    await published(broker.port, numbered(10))
    await until(lambda: listener.stats.acked == 10)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 10
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"cannot reach the broker at 127.0.0.1:{broker.port}: retrying with back-off (up to 30 s)"
    ]


async def test_a_message_the_store_raises_on_is_isolated_and_dead_lettered(
    listening, broker, conn, monkeypatch
):
    real_push = store_module.push_items

    async def push_items(conn, feeds, by_feed, *args, **kwargs):
        if any(row["sensor_id"] == "poison" for m in by_feed.values() for row in m.rows):
            raise RuntimeError("a bug meets this reading")
        return await real_push(conn, feeds, by_feed, *args, **kwargs)

    monkeypatch.setattr(store_module, "push_items", push_items)
    messages = [("city/air/a", reading("a", 1)), ("city/air/p", reading("poison", 2)),
                ("city/air/b", reading("b", 3))]  # fmt: skip
    await published(broker.port, messages)
    await until(lambda: listening.stats.acked == 3)
    assert [r["external_id"] for r in await conn.fetch(READINGS)] == ["a", "b"]
    letter = await conn.fetchrow("SELECT feed, format, reason, payload FROM dead_letters")
    assert (letter["feed"], letter["format"]) == ("air", "mqtt")
    assert letter["reason"] == (
        "the store refused it: RuntimeError('a bug meets this reading') (topic city/air/p)"
    )
    assert orjson.loads(letter["payload"]) == reading("poison", 2)


async def test_a_flood_from_one_sensor_does_not_hold_up_the_others(listening, broker, conn):
    """3,000 readings and 1,000 repeats of one more from one sensor, then 20 from another:
    everything lands once, repeats count as duplicates, and the other sensor's readings land
    with the flood's batches (how fast is bench/stream.py's question)."""
    minutes = [f"2026-11-1{5 + i // 1440}T{i // 60 % 24:02d}:{i % 60:02d}:00Z" for i in range(3000)]
    flood = [
        ("city/air/flood", reading("flood", i % 90, "µg/m³", time=t)) for i, t in enumerate(minutes)
    ]
    repeats = [("city/air/flood", reading("flood", 1, "µg/m³", time="2026-11-14T00:00:00Z"))] * 1000
    calm = [("city/air/calm", reading("calm", 20 + i, "µg/m³", time=f"2026-11-20T{i:02d}:00:00Z"))
            for i in range(20)]  # fmt: skip
    await published(broker.port, flood + repeats + calm)
    await until(lambda: listening.stats.acked == len(flood) + len(repeats) + len(calm), 60)
    counts = dict(
        await conn.fetch(
            "SELECT s.external_id, count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id "
            "GROUP BY 1"
        )
    )
    assert counts == {"flood": 3001, "calm": 20}
    assert (listening.stats.loaded, listening.stats.duplicates) == (3021, 999)
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_the_api_can_run_the_listener_itself(broker, settings, conn):
    """`citytwin serve --listen`: one process serves the API and takes the stream."""
    app = create_app(listener_settings(settings, broker, mqtt_listen=True))
    async with asgi_client(app) as api:
        await asyncio.wait_for(app.state.listener.ready.wait(), 15)  # subscribed
        await published(broker.port, numbered(30))
        for _ in range(300):
            if await conn.fetchval("SELECT count(*) FROM readings") == 30:
                break
            await asyncio.sleep(0.05)
        cells = await api.get("/cells", params={"variable": "no2", "resolution": 7})
    assert await conn.fetchval("SELECT count(*) FROM readings") == 30
    assert sum(f["properties"]["count"] for f in cells.json()["features"]) == 30
