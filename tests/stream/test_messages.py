"""Pure stream logic: topics → feeds, payload detection → rows, future times, batching."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from citytwin.errors import InvalidParameter, MalformedInput
from citytwin.ingest.payload_formats import CANONICAL, detect
from citytwin.ingest.read import read_ndjson
from citytwin.stream.batcher import Backoff, Batcher
from citytwin.stream.messages import map_batch
from citytwin.stream.mqtt import broker_of
from citytwin.stream.mqtt_source import MqttSource
from citytwin.stream.pipeline import Timing
from citytwin.stream.source import Message
from citytwin.stream.topics import feed_of, subscriptions, topic_matches
from tests.live.entities import AIR, sta_datastream

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SUBSCRIBED = {"city/air/#": "air", "city/traffic/#": "traffic", "raw/+": None}


def reading(sensor="s1", time="2026-11-20T10:00:00Z", value=10, unit="ppb", variable="no2"):
    return {"sensor_id": sensor, "lon": 9.52, "lat": 47.14, "time": time,
            "variable": variable, "value": value, "unit": unit}  # fmt: skip


def mapped(messages, feeds, **kwargs):
    options = {"max_bytes": 1 << 20, "now": NOW, "future": timedelta(minutes=5)} | kwargs
    source = MqttSource.__new__(MqttSource)  # only its kind is read
    feeds_of = SUBSCRIBED
    return map_batch(
        [
            Message(source, t, p if isinstance(p, bytes) else orjson.dumps(p), feed_of(t, feeds_of))
            for t, p in messages
        ],
        feeds,
        **options,
    )


def test_topic_filters_expand_per_feed_and_name_the_feed():
    subscribed = subscriptions(["city/{feed}/#", "raw/+"], ["air", "traffic"])
    assert subscribed == {"city/air/#": "air", "city/traffic/#": "traffic", "raw/+": None}
    assert feed_of("city/air/station/7", subscribed) == "air"
    assert feed_of("city/air", subscribed) == "air"  # '#' also matches its parent level
    assert feed_of("raw/x", subscribed) is None
    assert feed_of("city/energy/x", subscribed) is None
    assert topic_matches("+/a", "x/a") and not topic_matches("+/a", "$SYS/a")
    assert not topic_matches("a/+", "a/b/c")
    with pytest.raises(InvalidParameter, match="'#' must be the whole last level"):
        subscriptions(["city/#/{feed}"], ["air"])
    with pytest.raises(InvalidParameter, match="'\\+' must be a whole level"):
        subscriptions(["city/a+"], ["air"])


def test_broker_urls():
    assert broker_of("mqtt://127.0.0.1:1884").port == 1884
    secure = broker_of("mqtts://u%40x:p@broker.example")
    assert (secure.host, secure.port, secure.tls, secure.username) == (
        "broker.example", 8883, True, "u@x"
    )  # fmt: skip
    with pytest.raises(InvalidParameter, match="mqtt_url"):
        broker_of("http://127.0.0.1:1883")


def test_detect_by_content():
    assert detect(reading()).name == CANONICAL
    assert detect([reading(), reading()]).name == CANONICAL
    assert detect(AIR).name == "ngsi-ld"
    assert detect({"Datastream": {}, "result": 1}).name == "sta-observation"
    assert detect({"components": [], "dataArray": []}).name == "sta-dataarray"
    with pytest.raises(MalformedInput, match="not a canonical reading"):
        detect({"hello": "world"})
    with pytest.raises(MalformedInput):
        detect([1, 2])


def test_a_batch_numbers_items_across_messages(feeds):
    observation = {"phenomenonTime": "2026-11-20T10:00:00Z", "result": 5,
                   "Datastream": sta_datastream("NO2", "ppb", "sta-1")}  # fmt: skip
    batch = mapped(
        [
            ("city/air/a", [reading("s1"), reading("s2")]),
            ("city/air/b", AIR),
            ("city/traffic/c", observation),  # the content names its feed: air
            ("city/air/d", b'{"sensor_id": "s3", "time": '),
            ("raw/x", reading("s4")),  # canonical, but the topic names no feed
        ],
        feeds,
    )
    assert [(i.format, i.topic) for i in batch.items] == [
        (CANONICAL, "city/air/a"), (CANONICAL, "city/air/a"),
        ("ngsi-ld", "city/air/b"), ("sta-observation", "city/traffic/c"),
    ]  # fmt: skip
    assert list(batch.by_feed) == ["air"]
    rows = batch.by_feed["air"].rows
    assert [(r["item"], r["sensor_id"], r["variable"]) for r in rows] == [
        (1, "s1", "no2"), (2, "s2", "no2"),
        (3, AIR["id"], "no2"), (3, AIR["id"], "pm25"),
        (4, "sta-1", "no2"),
    ]  # fmt: skip
    # A list member is re-encoded; a single object keeps its bytes as sent.
    assert orjson.loads(batch.items[1].payload) == reading("s2")
    assert batch.items[2].payload == orjson.dumps(AIR)
    assert [(f, fmt, reason.split(" (topic")[0]) for f, fmt, reason, _ in batch.unreadable] == [
        ("air", "mqtt", "not valid JSON: unexpected end of data: line 1 column 29 (char 28)"),
        (None, CANONICAL, "a canonical reading needs a topic that names its feed ({feed})"),
    ]


def test_mapped_rows_reach_the_ingest_as_reading_them_from_ndjson_would_give(feeds):
    described = reading("s2", value="12.5") | {"site": "kerb", "height": 3}
    batch = mapped([("city/air/a", [reading("s1"), described]), ("city/air/b", AIR)], feeds)
    rows = batch.by_feed["air"]
    ndjson = b"\n".join(
        orjson.dumps({k: v for k, v in row.items() if k != "item"}) for row in rows.rows
    )
    handed = rows.to_raw_rows()
    assert handed.table.equals(read_ndjson(ndjson).table) and handed.rejected == []
    assert handed.table.column("value").to_pylist() == ["10", "12.5", "20.0", "12.5"]  # as sent
    assert handed.table.column("line").to_pylist() == [1, 2, 3, 4]
    assert "item" not in " ".join(handed.table.column_names)
    assert handed.table.column("property:site").to_pylist() == [None, "kerb", None, None]


def test_the_next_batch_is_taken_so_that_its_mapping_ends_with_the_store_before_it():
    timing = Timing(mapping=0.25, storing=1.0)
    assert timing.take_next(store_began=100.0) == 100.75
    assert Timing(mapping=2.0, storing=1.0).take_next(100.0) == 100.0  # mapping is the longer
    assert Timing().take_next(5.0) == 5.0  # nothing measured yet: at once


def test_oversized_and_unknown_payloads_are_kept_as_dead_letters(feeds):
    big = b'{"sensor_id": "' + b"x" * (200 << 10) + b'"}'
    batch = mapped(
        [("city/air/big", big), ("city/air/odd", {"hello": "world"})],
        feeds,
        max_bytes=100 << 10,
    )
    (feed, fmt, reason, payload), odd = batch.unreadable
    assert (feed, fmt, len(payload)) == ("air", "mqtt", 64 << 10)
    assert reason == (
        f"{len(big)} bytes is over the 102400 byte limit; the first 65536 bytes are kept "
        "(topic city/air/big)"
    )
    assert odd[1] == "mqtt" and odd[2].startswith("not a canonical reading")
    assert batch.items == [] and batch.by_feed == {}


def test_readings_from_the_future_are_rejected(feeds):
    batch = mapped(
        [
            ("city/air/1", reading("ok", "2026-11-20T12:04:00Z")),  # within 5 min of skew
            ("city/air/2", reading("late", "2026-11-20T12:06:00+00:00")),
            ("city/air/3", reading("local", "2026-11-20T13:04:00")),  # Zurich: 12:04 UTC
            ("city/air/4", reading("far", "3000-01-01T00:00:00Z")),
            ("city/air/5", reading("bad", "yesterday")),  # left to validation
            ("city/air/6", reading("local late", "2026-11-20T13:06:00")),  # 12:06 UTC
        ],
        feeds,
        city_zone="Europe/Zurich",  # the city's zone: naive times are read in it
    )
    air = batch.by_feed["air"]
    assert [r["sensor_id"] for r in air.rows] == ["ok", "local", "bad"]
    assert [(r.line, r.field) for r in air.rejected] == [(2, "time"), (4, "time"), (6, "time")]
    assert air.rejected[0].error == (
        "'2026-11-20T12:06:00+00:00' is more than 300 s ahead of the service's clock "
        "(2026-11-20T12:00:00Z)"
    )
    errors = {r.line: [f"{r.field}: {r.error}"] for r in air.rejected}
    letters = batch.dead_letters("air", errors)
    assert [(f, fmt, payload) for f, fmt, _, payload in letters] == [
        ("air", CANONICAL, orjson.dumps(reading("late", "2026-11-20T12:06:00+00:00"))),
        ("air", CANONICAL, orjson.dumps(reading("far", "3000-01-01T00:00:00Z"))),
        ("air", CANONICAL, orjson.dumps(reading("local late", "2026-11-20T13:06:00"))),
    ]
    assert letters[1][2].endswith("(topic city/air/4)")


def test_batcher_is_due_by_size_or_age():
    batcher = Batcher(size=3, wait=0.2)
    assert batcher.deadline() is None and not batcher.ready(100.0)
    batcher.add("a", 10.0)
    batcher.add("b", 10.1)
    assert batcher.deadline() == pytest.approx(10.2)
    assert not batcher.ready(10.15) and batcher.ready(10.2)
    for item, now in (("c", 10.12), ("d", 10.13)):
        batcher.add(item, now)
    assert batcher.ready(10.13)  # three held
    assert batcher.take() == ["a", "b", "c"]
    assert batcher.deadline() == pytest.approx(10.33)  # the oldest left starts the next batch
    assert batcher.discard(lambda item: item == "d") == ["d"] and len(batcher) == 0


def test_backoff_doubles_up_to_its_limit():
    backoff = Backoff(first=0.25, limit=2.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.25
