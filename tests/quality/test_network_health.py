"""`GET /sensors/health`: the network's health as GeoJSON from the stored quality codes, over
the planted network of test_quality_api (Q1 spikes once, Q2 sticks from hour 96). Real PostGIS."""

from tests.factories import air_rows, post_readings
from tests.quality.test_quality_api import HOURS, STUCK_FROM, network


async def test_every_sensor_with_its_score_open_faults_and_totals_per_kind(client):
    await post_readings(client, network())
    answer = await client.get("/sensors/health", params={"feed": "air"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    body = answer.json()
    assert (body["type"], body["sensors"], body["faulty"], body["window_hours"]) == (
        "FeatureCollection",
        6,
        1,
        168,
    )
    sensors = {f["properties"]["external_id"]: f for f in body["features"]}
    assert sorted(sensors) == [f"Q{n}" for n in range(6)]
    stuck = sensors["Q2"]
    assert stuck["geometry"] == {"type": "Point", "coordinates": [9.524, 47.14]}
    assert stuck["properties"]["status"] == "fault"
    assert stuck["properties"]["score"] == round(1 - (HOURS - STUCK_FROM) / HOURS, 4)
    assert stuck["properties"]["open"] == [
        {"variable": "pm25", "kind": "stuck", "since": "2026-10-05T00:00:00Z"}
    ]
    spiky = sensors["Q1"]["properties"]
    assert (spiky["status"], spiky["score"], spiky["open"]) == (
        "ok",
        round(1 - 1 / HOURS, 4),
        [],
    )
    assert (spiky["readings"], spiky["flagged"]) == (HOURS, 1)
    assert [sensors[f"Q{n}"]["properties"]["score"] for n in (0, 3, 4, 5)] == [1.0] * 4
    assert body["kinds"]["stuck"] == {"open": 1, "flagged": HOURS - STUCK_FROM}
    assert body["kinds"]["spike"] == {"open": 0, "flagged": 1}
    assert body["kinds"]["drift"] == {"open": 0, "flagged": 0}


async def test_hours_and_feed_narrow_it(client):
    await post_readings(client, network())
    traffic = air_rows(hours=4).query("variable == 'no2'").assign(variable="speed", unit="km/h")
    await post_readings(client, traffic, feed="traffic")
    everyone = (await client.get("/sensors/health")).json()
    assert everyone["sensors"] == 9
    # The last 12 hours of Q2: all stuck.
    recent = (await client.get("/sensors/health", params={"feed": "air", "hours": 12})).json()
    q2 = next(f for f in recent["features"] if f["properties"]["external_id"] == "Q2")
    assert (q2["properties"]["readings"], q2["properties"]["score"]) == (13, 0.0)
    assert recent["kinds"]["spike"] == {"open": 0, "flagged": 0}


async def test_bad_hours_is_a_400_naming_it_and_an_unknown_feed_a_404(client):
    answer = await client.get("/sensors/health", params={"hours": "-3"})
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "hours"
    unknown = await client.get("/sensors/health", params={"feed": "sewers"})
    assert unknown.status_code == 404
    assert "sewers" in unknown.json()["detail"]
