"""Payload mappers: NGSI-LD entities and SensorThings Observations onto canonical rows."""

import copy

import pytest

from citytwin.db import dead_letters
from citytwin.errors import MalformedInput, NotFound
from citytwin.ingest import payloads
from citytwin.ingest.validate import Rejection
from citytwin.services.ingest import ingest
from tests.live.entities import AIR, ENERGY_KEY_VALUES, TRAFFIC, sta_datastream


def test_air_entity_normalized():
    rows, rejection = payloads.map_entity(AIR, 3)
    assert rejection is None
    by_variable = {row["variable"]: row for row in rows}
    assert sorted(by_variable) == ["no2", "pm25"]  # temperature is not an air variable
    no2 = by_variable["no2"]
    assert no2 == {
        "sensor_id": "urn:ngsi-ld:AirQualityObserved:Vaduz:S1",
        "lon": 9.5209,
        "lat": 47.1410,
        "time": "2026-11-02T10:00:00Z",
        "variable": "no2",
        "value": 20.0,
        "unit": "ppb",
        "item": 3,
        "name": "Vaduz Städtle",
    }
    assert by_variable["pm25"]["unit"] == "µg/m³"
    assert by_variable["pm25"]["time"] == "2026-11-02T10:05:00Z"  # observedAt wins


def test_traffic_entity_rates_and_fractions():
    rows, rejection = payloads.map_entity(TRAFFIC, 1)
    assert rejection is None
    got = {row["variable"]: (row["value"], row["unit"]) for row in rows}
    # 120 vehicles in 15 minutes is 480 veh/h; occupancy stays a fraction for the feed to scale.
    assert got == {
        "vehicle_count": (480.0, "veh/h"),
        "speed": (42.5, "km/h"),
        "occupancy": (0.25, "fraction"),
    }
    assert {row["time"] for row in rows} == {"2026-11-02T10:15:00Z"}


def test_energy_entity_key_values():
    rows, rejection = payloads.map_entity(ENERGY_KEY_VALUES, 1)
    assert rejection is None
    assert [(r["variable"], r["value"], r["unit"], r["lon"]) for r in rows] == [
        ("power_kw", 12.75, "kW", 9.5215)
    ]
    assert payloads.entity_feed(ENERGY_KEY_VALUES) == "energy"


def test_entity_rejections_name_the_reason():
    _, wrong_type = payloads.map_entity({"id": "urn:x", "type": "WeatherObserved"}, 2)
    assert wrong_type.line == 2 and wrong_type.field == "type"
    assert "'WeatherObserved' is not mapped" in wrong_type.error
    _, no_id = payloads.map_entity({"type": "AirQualityObserved", "no2": 1}, 4)
    assert no_id == Rejection(4, "id", "missing entity id")
    _, empty = payloads.map_entity({"id": "urn:a", "type": "AirQualityObserved"}, 5)
    assert empty.field == "entity" and "none of the attributes no2, pm25, pm10, o3" in empty.error


def test_ngsi_batch_splits_by_feed_and_keeps_bad_items():
    batch = [AIR, TRAFFIC, {"id": "urn:w", "type": "WeatherObserved"}, "nonsense"]
    by_feed = payloads.map_ngsi_batch(batch)
    assert sorted(by_feed) == ["", "air", "traffic"]
    assert {row["item"] for row in by_feed["air"].rows} == {1}
    assert {row["item"] for row in by_feed["traffic"].rows} == {2}
    assert [(r.line, r.field) for r in by_feed[""].rejected] == [(3, "type"), (4, "entity")]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "non-empty array of entities"),
        ([{"id": "urn:w", "type": "WeatherObserved"}], "no entity of a mapped type"),
        (42, "non-empty array of entities"),
    ],
)
def test_ngsi_batch_unreadable(document, message):
    with pytest.raises(MalformedInput, match=message):
        payloads.map_ngsi_batch(document)


def test_load_json_truncated():
    with pytest.raises(MalformedInput, match="not valid JSON"):
        payloads.load_json(b'[{"id": "urn:a", "type": "AirQ')


def test_sta_observation(feeds):
    observation = {
        "phenomenonTime": "2026-11-02T10:00:00Z",
        "result": 17.5,
        "Datastream": sta_datastream(),
        "FeatureOfInterest": {"feature": {"type": "Point", "coordinates": [9.5215, 47.1415]}},
    }
    by_feed = payloads.map_observations(feeds, [observation])
    assert list(by_feed) == ["air"]
    assert by_feed["air"].rows == [
        {
            "sensor_id": "bus-12",
            "lon": 9.5215,  # where it was observed, not the Thing's depot
            "lat": 47.1415,
            "variable": "pm25",
            "unit": "µg/m³",
            "time": "2026-11-02T10:00:00Z",
            "value": 17.5,
            "item": 1,
        }
    ]


def test_sta_data_array_and_rejections(feeds):
    document = [
        {
            "Datastream": sta_datastream("NO2", "ppb", "S9"),
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray": [
                ["2026-11-02T10:00:00Z", 10, 1],
                ["2026-11-02T10:00:00Z/2026-11-02T11:00:00Z", 11, 1],
            ],
        },
        {"Datastream": {"@iot.id": 7}, "components": ["phenomenonTime", "result"],
         "dataArray": [["2026-11-02T10:00:00Z", 1]]},
        {"Datastream": sta_datastream("radon", "Bq/m3"), "components": ["phenomenonTime"],
         "dataArray": [["2026-11-02T10:00:00Z"]]},
    ]  # fmt: skip
    observations = payloads.data_array_observations(document)
    assert len(observations) == 4
    by_feed = payloads.map_observations(feeds, observations)
    assert [(r["item"], r["time"], r["value"], r["unit"]) for r in by_feed["air"].rows] == [
        (1, "2026-11-02T10:00:00Z", 10, "ppb"),
        (2, "2026-11-02T11:00:00Z", 11, "ppb"),
    ]
    reasons = {r.line: (r.field, r.error) for r in by_feed[""].rejected}
    assert reasons[3][0] == "Datastream" and "by id is not supported" in reasons[3][1]
    assert reasons[4] == ("ObservedProperty", "'radon' is not a variable of any feed")


def test_sta_data_array_unreadable():
    with pytest.raises(MalformedInput, match="dataArray set 1: needs components and dataArray"):
        payloads.data_array_observations([{"Datastream": {}}])


async def test_ppb_converted_through_the_feed_aliases(conn, feeds, settings):
    """20 ppb NO2 is stored as 38.25 µg/m³: air declares 20 °C, where a mole of gas fills
    22.414 l * 293.15 / 273.15 = 24.055 l, so 1 ppb NO2 (46.0055 g/mol) is 1.9125 µg/m³."""
    entity = copy.deepcopy(AIR)
    mapped = payloads.map_ngsi_batch([entity])["air"]
    report = await ingest(
        conn,
        feeds["air"],
        mapped.to_raw_rows(),
        encoding="ndjson",
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    assert (report.read, report.loaded, report.rejected) == (2, 2, [])
    values = dict(
        await conn.fetch(
            "SELECT v.name, r.value FROM readings r JOIN variables v ON v.id = r.variable_id"
        )
    )
    assert values == {"no2": pytest.approx(38.25, abs=1e-3), "pm25": 12.5}


async def test_dead_letter_queries(conn):
    await conn.execute("TRUNCATE dead_letters RESTART IDENTITY")
    first = await dead_letters.record(conn, "air", "ngsi-ld", "bad unit", b'{"a": 1}')
    await dead_letters.record_many(conn, [(None, "sta-observation", "truncated", b"{")] * 2)
    total, page = await dead_letters.list_dead_letters(conn, limit=2, offset=1)
    assert total == 3
    assert [row["id"] for row in page] == [2, 1]  # newest first
    assert bytes(page[1]["payload"]) == b'{"a": 1}' and page[1]["replayed_at"] is None
    await dead_letters.mark_replayed(conn, first)
    total, pending = await dead_letters.list_dead_letters(conn, pending=True)
    assert total == 2 and first not in {row["id"] for row in pending}
    with pytest.raises(NotFound):
        await dead_letters.mark_replayed(conn, 99)
