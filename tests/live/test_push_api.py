"""Push endpoints: NGSI-LD upserts, SensorThings Observations, dead letters and replays."""

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from citytwin.api.app import create_app
from citytwin.db import dead_letters
from citytwin.feeds import json_ld
from citytwin.services import push
from tests.asgi import asgi_client
from tests.conftest import city_zone
from tests.factories import API_KEY
from tests.live.entities import AIR, ENERGY_KEY_VALUES, TRAFFIC, sta_datastream

HEADERS = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
UPSERT = "/ngsi-ld/v1/entityOperations/upsert"


@pytest.fixture(scope="module")
async def push_app(settings, pool):
    """The app of `create_app` with the push router."""
    app = create_app(settings)
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def client(push_app, conn):
    """The push API over an emptied store with no dead letters."""
    await conn.execute("TRUNCATE dead_letters RESTART IDENTITY")
    return push_app


async def stored(conn) -> dict[tuple[str, str], float]:
    rows = await conn.fetch(
        """SELECT s.external_id, v.name, r.value FROM readings r
           JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id"""
    )
    return {(row[0], row[1]): row[2] for row in rows}


async def letters(conn) -> list[dict]:
    return [dict(row) for row in await conn.fetch("SELECT * FROM dead_letters ORDER BY id")]


async def test_upsert_lands_in_the_feed_of_each_type(client, conn):
    answer = await client.post(UPSERT, json=[AIR, TRAFFIC, ENERGY_KEY_VALUES], headers=HEADERS)
    assert answer.status_code == 201, answer.text
    assert answer.json() == [AIR["id"], TRAFFIC["id"], ENERGY_KEY_VALUES["id"]]
    assert await stored(conn) == {
        (AIR["id"], "no2"): pytest.approx(38.25, abs=1e-3),  # 20 ppb at 20 °C
        (AIR["id"], "pm25"): 12.5,
        (TRAFFIC["id"], "vehicle_count"): 480.0,  # 120 in 15 min
        (TRAFFIC["id"], "speed"): 42.5,
        (TRAFFIC["id"], "occupancy"): 25.0,  # 0.25 as %
        (ENERGY_KEY_VALUES["id"], "power_kw"): 12.75,
    }
    feeds = dict(await conn.fetch("SELECT external_id, feed FROM sensors"))
    assert feeds == {AIR["id"]: "air", TRAFFIC["id"]: "traffic", ENERGY_KEY_VALUES["id"]: "energy"}
    assert await letters(conn) == []


async def test_upsert_replay_does_not_double_count(client, conn):
    first = await client.post(UPSERT, json=[AIR, TRAFFIC], headers=HEADERS)
    assert first.status_code == 201
    again = await client.post(UPSERT, json=[AIR, TRAFFIC], headers=HEADERS)
    assert again.status_code == 204  # every reading already stored
    assert await conn.fetchval("SELECT count(*) FROM readings") == 5
    assert await conn.fetchval("SELECT sum(count) FROM cell_rollups") == 5


async def test_upsert_partial_failure_lists_and_dead_letters_items(client, conn):
    bad_unit = copy.deepcopy(AIR) | {"id": "urn:ngsi-ld:AirQualityObserved:Vaduz:S2"}
    bad_unit["no2"] = {"type": "Property", "value": 3, "unitCode": "KGM"}
    del bad_unit["pm25"]
    weather = {"id": "urn:ngsi-ld:WeatherObserved:1", "type": "WeatherObserved"}
    answer = await client.post(UPSERT, json=[AIR, bad_unit, weather], headers=HEADERS)
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert body["success"] == [AIR["id"]]
    errors = {e["entityId"]: (e["position"], e["error"]["detail"]) for e in body["errors"]}
    assert errors[bad_unit["id"]][0] == 2
    assert "unit: cannot convert 'KGM'" in errors[bad_unit["id"]][1]
    assert errors[weather["id"]][0] == 3
    assert "'WeatherObserved' is not mapped" in errors[weather["id"]][1]
    assert body["readings"]["loaded"] == 2
    rows = await letters(conn)
    assert [(r["feed"], r["format"]) for r in rows] == [("air", "ngsi-ld"), (None, "ngsi-ld")]
    assert orjson.loads(rows[0]["payload"]) == bad_unit  # the item itself, raw
    assert "cannot convert 'KGM'" in rows[0]["reason"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'[{"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQ', 400, "not valid JSON"),
        (orjson.dumps([{"id": "urn:w", "type": "WeatherObserved"}]), 400, "no entity of a mapped"),
        (b"", 400, "the body is empty"),
    ],
)
async def test_unreadable_body_is_a_4xx_and_a_dead_letter(client, conn, body, status, reason):
    answer = await client.post(UPSERT, content=body, headers=HEADERS)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["detail"]
    assert answer.json()["parameter"] == "body"
    (row,) = await letters(conn)
    assert bytes(row["payload"]) == body and reason in row["reason"]
    assert await conn.fetchval("SELECT count(*) FROM readings") == 0


async def test_oversized_body_is_413_and_a_dead_letter(client, conn, settings):
    body = b"[" + b" " * settings.api.push_max_bytes + b"]"
    answer = await client.post(UPSERT, content=body, headers=HEADERS)
    assert answer.status_code == 413
    assert "larger than 4096 KiB" in answer.json()["detail"]
    (row,) = await letters(conn)
    assert len(row["payload"]) == push.KEPT_BYTES and "bytes are kept" in row["reason"]


async def test_writes_need_the_api_key(client):
    answer = await client.post(UPSERT, json=[AIR])
    assert answer.status_code == 401
    assert (await client.get("/deadletters")).status_code == 401


async def datastream_id(conn, sensor: str, variable: str) -> int:
    """The SensorThings id of a sensor's variable: sensor id * 1000 + variable id."""
    return await conn.fetchval(
        "SELECT s.id * 1000 + v.id FROM sensors s, variables v "
        "WHERE s.external_id = $1 AND v.name = $2",
        sensor,
        variable,
    )


async def test_sensorthings_observation(client, conn):
    observation = {
        "phenomenonTime": "2026-11-02T10:00:00Z",
        "result": 17.5,
        "Datastream": sta_datastream(),
    }
    answer = await client.post("/Observations", json=observation, headers=HEADERS)
    assert answer.status_code == 201, answer.text
    datastream = await datastream_id(conn, "bus-12", "pm25")
    link = f"http://citytwin/v1.1/Observations('{datastream}:2026-11-02T10:00:00.000000Z')"
    assert answer.headers["location"] == link
    assert answer.json()["@iot.selfLink"] == link
    assert await stored(conn) == {("bus-12", "pm25"): 17.5}
    read = (await client.get(link)).json()  # the read side finds it by that id
    assert (read["result"], read["phenomenonTime"]) == (17.5, "2026-11-02T10:00:00Z")
    location = await conn.fetchval("SELECT ST_AsText(geom) FROM sensors")
    assert location == "POINT(9.509 47.12)"


async def test_sensorthings_by_id_datastream_is_refused(client, conn):
    observation = {
        "phenomenonTime": "2026-11-02T10:00:00Z",
        "result": 1,
        "Datastream": {"@iot.id": 4},
    }
    answer = await client.post("/Observations", json=observation, headers=HEADERS)
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "Datastream"
    assert "by id is not supported" in answer.json()["detail"]
    (row,) = await letters(conn)
    assert row["format"] == "sta-observation" and orjson.loads(row["payload"]) == observation


async def test_sensorthings_create_observations(client, conn):
    document = [
        {
            "Datastream": sta_datastream("NO2", "ppb", "S9"),
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-11-02T10:00:00Z", 10], ["2026-11-02T11:00:00Z", 9000]],
        },
        {
            "Datastream": sta_datastream("speed", "m/s", "loop-3"),
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-11-02T10:00:00Z", 12.5]],
        },
    ]
    answer = await client.post("/CreateObservations", json=document, headers=HEADERS)
    assert answer.status_code == 201, answer.text
    no2, speed = (
        await datastream_id(conn, "S9", "no2"),
        await datastream_id(conn, "loop-3", "speed"),
    )
    assert answer.json() == [
        f"http://citytwin/v1.1/Observations('{no2}:2026-11-02T10:00:00.000000Z')",
        "error",  # 9000 ppb is 16920 µg/m³, beyond no2's range
        f"http://citytwin/v1.1/Observations('{speed}:2026-11-02T10:00:00.000000Z')",
    ]
    assert await stored(conn) == {
        ("S9", "no2"): pytest.approx(19.125, abs=1e-3),  # 10 ppb at 20 °C
        ("loop-3", "speed"): 45.0,
    }
    (row,) = await letters(conn)
    assert row["feed"] == "air" and "outside the plausible range" in row["reason"]
    assert orjson.loads(row["payload"])["result"] == 9000


async def test_list_dead_letters_pages(client, conn):
    for number in range(3):
        await client.post(UPSERT, content=b"[{" + bytes([48 + number]), headers=HEADERS)
    answer = await client.get("/deadletters?limit=2&offset=1", headers=HEADERS)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 1)
    assert [(item["id"], item["payload"]) for item in body["items"]] == [(2, "[{1"), (1, "[{0")]
    assert body["items"][0]["format"] == "ngsi-ld" and body["items"][0]["replayed_at"] is None
    bad = await client.get("/deadletters?limit=0", headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["parameter"] == "limit"


async def test_replay_lands_once_and_marks(client, conn):
    # A payload dead-lettered for a reason that has since gone away (say, a database outage).
    letter = await dead_letters.record(conn, None, "ngsi-ld", "outage", orjson.dumps([AIR]))
    answer = await client.post(f"/deadletters/{letter}/replay", headers=HEADERS)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["replayed"], answer.json()["loaded"]) == (True, 2)
    again = await client.post(f"/deadletters/{letter}/replay", headers=HEADERS)
    assert (again.json()["loaded"], again.json()["duplicates"]) == (0, 2)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 2
    assert await conn.fetchval("SELECT replayed_at IS NOT NULL FROM dead_letters") is True
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 1  # no new letters


async def test_replay_that_still_fails_stays_pending(client, conn):
    letter = await dead_letters.record(conn, None, "ngsi-ld", "truncated", b"[{")
    answer = await client.post(f"/deadletters/{letter}/replay", headers=HEADERS)
    assert answer.status_code == 400
    assert await conn.fetchval("SELECT replayed_at FROM dead_letters") is None
    missing = await client.post("/deadletters/99/replay", headers=HEADERS)
    assert missing.status_code == 404


async def test_a_canonical_dead_letter_replays_into_its_feed(client, conn):
    reading = {"sensor_id": "M1", "lon": 9.52, "lat": 47.14, "time": "2026-11-02T08:00:00Z"}
    reading |= {"variable": "no2", "value": 18.8, "unit": "µg/m³"}
    letter = await dead_letters.record(
        conn, "air", "canonical", "database unavailable (topic city/air/M1)", orjson.dumps(reading)
    )
    answer = await client.post(f"/deadletters/{letter}/replay", headers=HEADERS)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["replayed"], answer.json()["loaded"]) == (True, 1)
    assert await stored(conn) == {("M1", "no2"): pytest.approx(18.8)}
    assert (await letters(conn))[0]["replayed_at"] is not None


async def test_an_entity_timed_far_in_the_future_is_rejected_and_kept(client, conn):
    ahead = copy.deepcopy(AIR) | {"id": "urn:ngsi-ld:AirQualityObserved:Vaduz:S9"}
    ahead["dateObserved"] = {"type": "Property", "value": "2099-01-01T00:00:00Z"}
    del ahead["pm25"]  # its observedAt would time it in 2026
    answer = await client.post(UPSERT, json=[AIR, ahead], headers=HEADERS)
    assert answer.status_code == 207
    (error,) = answer.json()["errors"]
    assert error["entityId"] == ahead["id"]
    assert (
        "'2099-01-01T00:00:00Z' is more than 300 s ahead of the service's clock"
        in (error["error"]["detail"])
    )
    assert set(await stored(conn)) == {(AIR["id"], "no2"), (AIR["id"], "pm25")}
    (letter,) = await letters(conn)
    assert orjson.loads(letter["payload"])["id"] == ahead["id"]


async def test_an_upsert_in_expanded_iris_stores_what_its_compact_form_does(client, conn):
    expanded = {
        (json_ld.TERMS.get(name, name) if name not in ("id", "type", "@context") else name): value
        for name, value in AIR.items()
    }
    expanded["type"] = json_ld.TERMS["AirQualityObserved"]
    assert "https://smartdatamodels.org/dataModel.Environment/no2" in expanded
    answer = await client.post(UPSERT, json=[expanded], headers=HEADERS)
    assert answer.status_code == 201, answer.text
    assert await stored(conn) == {
        (AIR["id"], "no2"): pytest.approx(38.25, abs=1e-3),
        (AIR["id"], "pm25"): 12.5,
    }


async def test_pushed_times_without_an_offset_are_in_the_imported_citys_zone(client, conn):
    # No CITYTWIN_TIME_ZONE here: naive times are read in the city record's zone, as a file's
    # are; the record is given New York's zone (EST, UTC-5, on 2 November 2026).
    entity = copy.deepcopy(AIR)
    entity["dateObserved"] = {"type": "Property", "value": "2026-11-02T10:00:00"}
    del entity["pm25"]
    observation = {
        "phenomenonTime": "2026-11-02T10:00:00",
        "result": 17.5,
        "Datastream": sta_datastream(),
    }
    # An hour ahead of the clock in New York (though five hours behind it read as UTC).
    soon = datetime.now(ZoneInfo("America/New_York")) + timedelta(hours=1)
    canonical = {"sensor_id": "S1", "lon": 9.52, "lat": 47.14, "variable": "no2", "value": 9}
    canonical["time"] = f"{soon:%Y-%m-%dT%H:%M:%S}"
    async with city_zone(conn, "America/New_York"):
        answer = await client.post(UPSERT, json=[entity], headers=HEADERS)
        assert answer.status_code == 201, answer.text
        answer = await client.post("/Observations", json=observation, headers=HEADERS)
        assert answer.status_code == 201, answer.text
        late = await client.post("/feeds/air/readings", json=[canonical], headers=HEADERS)
    times = await conn.fetch(
        "SELECT s.external_id, r.time FROM readings r JOIN sensors s ON s.id = r.sensor_id "
        "ORDER BY 1"
    )
    assert [tuple(row) for row in times] == [
        ("bus-12", datetime(2026, 11, 2, 15, tzinfo=UTC)),
        (AIR["id"], datetime(2026, 11, 2, 15, tzinfo=UTC)),
    ]
    assert late.json()["loaded"] == 0
    ((rejected,),) = [item["errors"] for item in late.json()["rejected"]]
    assert rejected.startswith(f"time: '{canonical['time']}' is more than 300 s ahead of")
