"""`GET /twin/state` after real loads: values, ages, flags and cell means checked by hand."""

import h3.api.basic_str as h3
import pytest

from tests.factories import STATIONS, air_rows, post_readings
from tests.twin.readings import air, at, hourly


def by_sensor(document: dict) -> dict[tuple[str, str], dict]:
    return {(s["external_id"], s["variable"]): s for s in document["sensors"]}


def cell_of(station: str, resolution: int) -> str:
    lon, lat = STATIONS[station]
    return h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), resolution)


async def state(client, **params) -> dict:
    answer = await client.get("/twin/state", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_latest_value_time_age_and_unit_of_every_sensor(client):
    rows = air_rows(hours=24)
    await post_readings(client, rows)
    document = await state(client, now="2026-11-03T01:00:00Z")
    sensors = by_sensor(document)
    assert len(sensors) == 6  # 3 stations × (no2, pm25)
    last = rows[rows["time"] == "2026-11-02T23:00:00Z"]
    for row in last.itertuples():
        got = sensors[(row.sensor_id, row.variable)]
        assert got["value"] == row.value
        assert (got["time"], got["age_s"], got["unit"]) == ("2026-11-02T23:00:00Z", 7200, "µg/m³")
        assert (got["feed"], got["lon"], got["lat"]) == ("air", *STATIONS[row.sensor_id])
        assert got["h3"] == cell_of(row.sensor_id, 10)
        assert got["flags"] == {"stale": False, "suspect": [], "out_of_range": False, "quality": []}
    assert document["now"] == "2026-11-03T01:00:00.000000Z"
    assert document["event"] == 1


async def test_stale_after_three_expected_intervals_of_silence(client):
    await post_readings(client, air(hourly("S1", "no2", [40, 41])))  # last at 01:00
    at_limit = by_sensor(await state(client, now=at(4)))[("S1", "no2")]
    beyond = by_sensor(
        await state(
            client,
            now=at(
                4,
            ).replace(":00:00Z", ":00:01Z"),
        )
    )
    assert (at_limit["age_s"], at_limit["flags"]["stale"]) == (10800, False)
    assert beyond[("S1", "no2")]["flags"]["stale"] is True


async def test_suspect_stuck_and_jump_on_crafted_series(client):
    points = (
        hourly("S1", "no2", [40.0] * 6)  # six equal: stuck
        + hourly("S1", "pm25", [12.0] * 5 + [13.0])  # five equal, then a change
        + hourly("S2", "no2", [0.0] * 8)  # zero is the bottom of the range: real
        + [("S3", "no2", at(5), 10.0), ("S3", "no2", at(5 + 1 / 6), 900.0)]  # 5340/h
        + hourly("S3", "pm25", [10.0, 500.0], start=4)  # 490 in an hour: within 1000/h
    )
    await post_readings(client, air(points))
    sensors = by_sensor(await state(client, now=at(6)))
    suspect = {key: s["flags"]["suspect"] for key, s in sensors.items()}
    assert suspect == {
        ("S1", "no2"): ["stuck"],
        ("S1", "pm25"): [],
        ("S2", "no2"): [],
        ("S3", "no2"): ["jump"],
        ("S3", "pm25"): [],
    }


async def test_cells_at_two_resolutions_against_hand_computed_means(client):
    points = [
        ("S1", "no2", at(10), 40.0),
        ("S2", "no2", at(4), 50.0),  # silent for 6 h at 10:00: stale
        ("S3", "no2", at(10), 20.0),
        ("S1", "pm25", at(9), 8.0),
        ("S3", "o3", at(10), 900.0),  # beyond 800: stored flagged, left out of means
    ]
    await post_readings(client, air(points))
    # S1 and S2 share a resolution-7 cell, S3 lies in the next one.
    document = await state(client, now=at(10), resolution=7)
    cells = {(c["h3"], c["variable"]): c for c in document["cells"]}
    north, south = cell_of("S1", 7), cell_of("S3", 7)
    assert cell_of("S2", 7) == north != south
    assert cells[(north, "no2")] == {
        "h3": north,
        "variable": "no2",
        "unit": "µg/m³",
        "time": at(10),
        "mean": 45.0,
        "count": 2,
        "stale": 1,
        "suspect": 0,
    }
    assert (cells[(south, "no2")]["mean"], cells[(south, "no2")]["count"]) == (20.0, 1)
    assert (cells[(north, "pm25")]["mean"], cells[(north, "pm25")]["time"]) == (8.0, at(9))
    assert (cells[(south, "o3")]["mean"], cells[(south, "o3")]["count"]) == (None, 1)
    assert len(cells) == 4
    assert by_sensor(document)[("S3", "o3")]["flags"]["out_of_range"] is True

    fine = await state(client, now=at(10), resolution=10, variable="no2")
    cells = {c["h3"]: (c["mean"], c["count"], c["stale"]) for c in fine["cells"]}
    expected: dict[str, list] = {}
    for station, value, stale in (("S1", 40.0, 0), ("S2", 50.0, 1), ("S3", 20.0, 0)):
        expected.setdefault(cell_of(station, 10), []).append((value, stale))
    assert cells == {
        cell: (sum(v for v, _ in vs) / len(vs), len(vs), sum(s for _, s in vs))
        for cell, vs in expected.items()
    }
    assert {s["variable"] for s in fine["sensors"]} == {"no2"}


async def test_the_latest_never_goes_back_when_older_readings_arrive(client, conn):
    await post_readings(client, air(hourly("S1", "no2", [30.0, 31.0, 32.0], start=10)))
    await post_readings(client, air(hourly("S1", "no2", [99.0, 98.0, 97.0], start=0)))
    sensor = by_sensor(await state(client, now=at(13)))[("S1", "no2")]
    assert (sensor["time"], sensor["value"]) == (at(12), 32.0)
    held = await conn.fetchrow("SELECT prev_time, prev_value, run_length FROM latest_readings")
    assert (held["prev_value"], held["run_length"]) == (31.0, 1)


async def test_a_reading_filled_in_inside_a_stuck_run_ends_it(client, conn):
    await post_readings(client, air(hourly("S1", "no2", [40.0] * 6, start=6)))
    assert by_sensor(await state(client, now=at(12)))[("S1", "no2")]["flags"]["suspect"] == [
        "stuck"
    ]
    await post_readings(client, air([("S1", "no2", at(8.5), 41.0)]))
    sensor = by_sensor(await state(client, now=at(12)))[("S1", "no2")]
    assert sensor["flags"]["suspect"] == []
    assert await conn.fetchval("SELECT run_length FROM latest_readings") == 3  # 09, 10, 11


async def test_as_of_a_past_time(client):
    rows = air_rows(hours=24)
    await post_readings(client, rows)
    sensors = by_sensor(await state(client, now="2026-11-02T12:30:00Z"))
    noon = rows[rows["time"] == "2026-11-02T12:00:00Z"]
    assert {(r.sensor_id, r.variable): r.value for r in noon.itertuples()} == {
        key: s["value"] for key, s in sensors.items()
    }
    assert {s["age_s"] for s in sensors.values()} == {1800}


async def test_filters_by_variable_feed_and_area(client):
    await post_readings(client, air_rows(hours=2))
    lon, lat = STATIONS["S3"]
    near_s3 = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    only = await state(client, bbox=near_s3, variable="pm25", now=at(2))
    assert [(s["external_id"], s["variable"]) for s in only["sensors"]] == [("S3", "pm25")]
    assert [c["h3"] for c in only["cells"]] == [cell_of("S3", 10)]
    by_cell = await state(client, cells=cell_of("S1", 7), resolution=7, now=at(2))
    assert {s["external_id"] for s in by_cell["sensors"]} == {"S1", "S2"}
    traffic = await state(client, feed="traffic")
    assert (traffic["sensors"], traffic["cells"]) == ([], [])


@pytest.mark.parametrize(
    ("params", "status", "parameter"),
    [
        ({"resolution": 11}, 400, "resolution"),
        ({"now": "yesterday"}, 400, "now"),
        ({"variable": "nope"}, 400, "variable"),
        ({"feed": "nope"}, 404, None),
    ],
)
async def test_bad_parameters_are_named(client, params, status, parameter):
    answer = await client.get("/twin/state", params=params)
    assert answer.status_code == status
    assert answer.json().get("parameter") == parameter
