"""SensorThings 1.1 reads at /v1.1 over the demo city's feeds (real PostGIS, the app in process)."""

from datetime import UTC, datetime

import orjson
import pytest

from citytwin.query.json_sql import ISO_Z
from tests.asgi import asgi_client

pytestmark = pytest.mark.usefixtures("demo_city")


@pytest.fixture(scope="module")
async def sta(settings, pool, demo_city):
    from citytwin.api.app import create_app

    async with asgi_client(create_app(settings)) as client:
        yield client


async def ids(conn, external_id: str, variable: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT s.id, v.id FROM sensors s, variables v WHERE s.external_id = $1 AND v.name = $2",
        external_id,
        variable,
    )
    return row[0], row[1]


async def test_service_root_lists_sets_and_conformance(sta):
    root = (await sta.get("/v1.1")).json()
    names = [item["name"] for item in root["value"]]
    assert names == [
        "Things",
        "Locations",
        "HistoricalLocations",
        "Sensors",
        "FeaturesOfInterest",
        "ObservedProperties",
        "Datastreams",
        "Observations",
    ]
    assert root["value"][0]["url"] == "http://citytwin/v1.1/Things"
    conformance = root["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in conformance


async def test_things_count_page_and_next_link(sta):
    answer = (await sta.get("/v1.1/Things", params={"$count": "true", "$top": "2"})).json()
    assert answer["@iot.count"] == 80  # 30 detectors, 20 air stations, 30 meters
    assert len(answer["value"]) == 2
    assert "%24skip=2" in answer["@iot.nextLink"]
    thing = answer["value"][0]
    assert thing["@iot.selfLink"] == "http://citytwin/v1.1/Things(1)"
    assert thing["Datastreams@iot.navigationLink"] == "http://citytwin/v1.1/Things(1)/Datastreams"


async def test_datastream_observations_by_navigation(sta, pool):
    async with pool.acquire() as conn:
        sensor, variable = await ids(conn, "AQ01", "no2")
        expected = await conn.fetch(
            "SELECT time, value FROM readings WHERE sensor_id = $1 AND variable_id = $2 "
            "ORDER BY time LIMIT 3",
            sensor,
            variable,
        )
    datastream = sensor * 1000 + variable
    stream = (await sta.get(f"/v1.1/Datastreams({datastream})")).json()
    assert stream["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert stream["observedArea"]["type"] == "Point"
    page = (
        await sta.get(
            f"/v1.1/Datastreams({datastream})/Observations",
            params={"$top": "3", "$orderby": "phenomenonTime asc"},
        )
    ).json()
    assert [o["result"] for o in page["value"]] == [pytest.approx(r["value"]) for r in expected]
    first = page["value"][0]
    assert first["phenomenonTime"] == expected[0]["time"].isoformat().replace("+00:00", "Z")
    assert first["resultQuality"] == "ok"
    again = (await sta.get(f"/v1.1/Observations('{first['@iot.id']}')")).json()
    assert again["result"] == first["result"]


async def test_filter_time_space_and_expand_latest(sta, pool):
    async with pool.acquire() as conn:
        sensor, variable = await ids(conn, "AQ01", "no2")
        latest = await conn.fetchrow(
            "SELECT time, value FROM latest_readings WHERE sensor_id = $1 AND variable_id = $2",
            sensor,
            variable,
        )
        lon, lat = await conn.fetchrow(
            "SELECT ST_X(geom), ST_Y(geom) FROM sensors WHERE id = $1", sensor
        )
    box = (
        f"POLYGON(({lon - 1e-4} {lat - 1e-4},{lon + 1e-4} {lat - 1e-4},{lon + 1e-4} {lat + 1e-4},"
        f"{lon - 1e-4} {lat + 1e-4},{lon - 1e-4} {lat - 1e-4}))"
    )
    answer = (
        await sta.get(
            "/v1.1/Datastreams",
            params={
                "$filter": f"st_within(observedArea, geography'{box}') "
                "and ObservedProperty/name eq 'no2'",
                "$expand": "Observations($top=1;$orderby=phenomenonTime desc),Thing($select=name)",
            },
        )
    ).json()
    [stream] = answer["value"]
    assert stream["@iot.id"] == sensor * 1000 + variable
    assert set(stream["Thing"]) == {"@iot.id", "@iot.selfLink", "name"}
    assert stream["Thing"]["name"] == "AQ01"
    [newest] = stream["Observations"]
    assert newest["result"] == pytest.approx(latest["value"])
    assert newest["phenomenonTime"] == latest["time"].isoformat().replace("+00:00", "Z")
    timed = (
        await sta.get(
            f"/v1.1/Datastreams({stream['@iot.id']})/Observations",
            params={
                "$filter": "phenomenonTime ge 2026-11-02T08:00:00Z and "
                "phenomenonTime lt 2026-11-02T10:00:00Z and result add 0 ge 0",
                "$count": "true",
            },
        )
    ).json()
    assert timed["@iot.count"] == 2
    assert [o["phenomenonTime"] for o in timed["value"]] == [
        "2026-11-02T08:00:00Z",
        "2026-11-02T09:00:00Z",
    ]


ALONE = "NOT EXISTS (SELECT 1 FROM sensors o WHERE o.cell = s.cell AND o.id <> s.id)"


@pytest.mark.parametrize(
    ("alone", "start", "hours"),
    [(True, "06:00", True), (False, "06:00", True), (True, "06:30", False)],
)
async def test_aggregates_match_readings(sta, pool, alone, start, hours):
    """Whole hours from the sensor's hourly rollups, whether a neighbour shares its cell or
    not; a range that splits an hour from its readings: the same exact figures either way."""
    async with pool.acquire() as conn:
        sensor, variable = await conn.fetchrow(
            f"SELECT s.id, v.id FROM sensors s, variables v WHERE s.feed = 'traffic' "
            f"AND v.name = 'speed' AND {'' if alone else 'NOT'} {ALONE} ORDER BY s.id LIMIT 1"
        )
        expected = await conn.fetchrow(
            "SELECT avg(value), max(value), count(*) FROM readings WHERE sensor_id = $1 "
            "AND variable_id = $2 AND time >= $3 AND time < '2026-11-02T12:00Z' AND NOT flagged",
            sensor,
            variable,
            datetime.fromisoformat(f"2026-11-02T{start}:00+00:00"),
        )
    answer = (
        await sta.get(
            f"/v1.1/Datastreams({sensor * 1000 + variable})/Observations",
            params={
                "$apply": "aggregate(result with average as avg,result with max as max,"
                "$count as n)",
                "$interval": "PT6H",
                "$filter": f"phenomenonTime ge 2026-11-02T{start}:00Z and "
                "phenomenonTime lt 2026-11-02T12:00:00Z",
            },
        )
    ).json()
    [period] = answer["value"]
    assert period["phenomenonTime"] == "2026-11-02T06:00:00Z/2026-11-02T12:00:00Z"
    assert period["avg"] == pytest.approx(expected[0])
    assert period["max"] == pytest.approx(expected[1])
    assert period["n"] == expected[2] == (6 if hours else 5)  # hourly detectors
    assert period["fromRollups"] is hours


async def test_ref_property_and_value(sta):
    counted = await sta.get(
        "/v1.1/Things(1)", params={"$expand": "Datastreams($count=true;$top=1;$select=name)"}
    )
    thing = counted.json()
    assert thing["Datastreams@iot.count"] == 3
    assert len(thing["Datastreams"]) == 1 and "Datastreams@iot.nextLink" in thing
    refs = (await sta.get("/v1.1/Things(1)/Datastreams/$ref")).json()
    assert all(set(item) == {"@iot.selfLink"} for item in refs["value"])
    assert len(refs["value"]) == 3  # a traffic detector: vehicle_count, speed, occupancy
    name = (await sta.get("/v1.1/Things(1)/name")).json()
    assert name == {"name": "TD001"}
    raw = await sta.get("/v1.1/Things(1)/name/$value")
    assert raw.text == "TD001"


@pytest.mark.parametrize(
    ("path", "params", "status", "text"),
    [
        ("/v1.1/Things", {"$filter": "name eq"}, 400, "'eq' at position 5"),
        ("/v1.1/Things", {"$filter": "name eq 'a' and @"}, 400, "'@' at position 16"),
        ("/v1.1/Things", {"$filter": "colour eq 'red'"}, 400, "'colour' is not a property"),
        ("/v1.1/Things", {"$frobnicate": "1"}, 400, "unknown query option"),
        ("/v1.1/Observations", {"$filter": "result gt 'high'"}, 400, "operator does not exist"),
        ("/v1.1/Things", {"$filter": "st_within(name, geography'POINT(1')"}, 400, "not WKT"),
        ("/v1.1/Things", {"$expand": "Gizmos"}, 400, "Things has no 'Gizmos'"),
        ("/v1.1/Gadgets", {}, 404, "Gadgets"),
        ("/v1.1/Things(999999)", {}, 404, "999999"),
        ("/v1.1/Things(1)/colour", {}, 404, "colour"),
    ],
)
async def test_errors_in_odata_shape(sta, path, params, status, text):
    answer = await sta.get(path, params=params)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert text in error["message"]
    assert error["code"] == {400: "BadRequest", 404: "NotFound"}[status]


async def test_observations_written_by_the_database_equal_those_written_by_python(sta, pool):
    async with pool.acquire() as conn:
        sensor, variable = await ids(conn, "AQ01", "no2")
    path = f"/v1.1/Datastreams({sensor * 1000 + variable})/Observations"
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            "SELECT count(*) FROM readings WHERE sensor_id = $1 AND variable_id = $2",
            sensor,
            variable,
        )
    for params in ({"$top": "3", "$count": "true"}, {"$top": "3", "$select": "result,Datastream"}):
        answer = (await sta.get(path, params=params)).json()
        page = answer["value"]
        assert len(page) == 3
        assert answer.get("@iot.count") == (stored if "$count" in params else None)
        assert answer["@iot.nextLink"].endswith("%24skip=3")
        for item in page:
            by_id = await sta.get(item["@iot.selfLink"].removeprefix("http://citytwin"))
            one = by_id.json()  # one entity: its document is made in Python
            assert item == {name: one[name] for name in item}
        assert set(page[0]) == (
            set(one)
            if "$select" not in params
            else {"@iot.id", "@iot.selfLink", "result", "Datastream@iot.navigationLink"}
        )


@pytest.mark.parametrize(
    "instant",
    ["2026-11-02T07:00:00+00:00", "2026-11-02T07:00:00.250000+00:00", "2026-03-29T01:30:00+01:00"],
)
async def test_times_the_database_writes_are_orjsons(conn, instant):
    moment = datetime.fromisoformat(instant).astimezone(UTC)  # as asyncpg reads it
    written = await conn.fetchval(f"SELECT {ISO_Z.format('$1::timestamptz')}", moment)
    assert written == orjson.dumps(moment, option=orjson.OPT_UTC_Z).decode().strip('"')
