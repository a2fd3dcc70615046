"""NGSI-LD reads at /ngsi-ld/v1 over the demo city (real PostGIS, the app in process)."""

import pytest

from tests.asgi import asgi_client

pytestmark = pytest.mark.usefixtures("demo_city")


@pytest.fixture(scope="module")
async def ld(settings, pool, demo_city):
    from citytwin.api.app import create_app

    async with asgi_client(create_app(settings)) as client:
        yield client


async def test_entities_by_type_q_and_geo(ld, pool):
    async with pool.acquire() as conn:
        median = await conn.fetchval(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY l.value) FROM latest_readings l "
            "JOIN variables v ON v.id = l.variable_id WHERE v.name = 'no2'"
        )
        expected = await conn.fetch(
            "SELECT s.external_id, l.value FROM latest_readings l JOIN sensors s "
            "ON s.id = l.sensor_id JOIN variables v ON v.id = l.variable_id "
            "WHERE v.name = 'no2' AND l.value > $1 ORDER BY s.id",
            median,
        )
    assert 5 <= len(expected) < 20
    answer = await ld.get(
        "/ngsi-ld/v1/entities",
        params={"type": "AirQualityObserved", "q": f"no2>{median}", "count": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["NGSILD-Results-Count"] == str(len(expected))
    entities = answer.json()
    assert [e["id"] for e in entities] == [
        f"urn:ngsi-ld:AirQualityObserved:{r['external_id']}" for r in expected
    ]
    assert [e["no2"]["value"] for e in entities] == [pytest.approx(r["value"]) for r in expected]
    assert entities[0]["no2"]["unitCode"] == "GQ"
    one = entities[0]
    lon, lat = one["location"]["value"]["coordinates"]
    near = await ld.get(
        "/ngsi-ld/v1/entities",
        params={
            "georel": "near;maxDistance==1",
            "geometry": "Point",
            "coordinates": f"[{lon},{lat}]",
            "type": "AirQualityObserved",
            "options": "keyValues",
            "attrs": "no2",
        },
    )
    [found] = near.json()
    assert found["id"] == one["id"]
    assert set(found) == {"id", "type", "location", "no2"}
    by_id = (await ld.get(f"/ngsi-ld/v1/entities/{one['id']}")).json()
    assert by_id["no2"]["value"] == one["no2"]["value"]


async def test_temporal_values_and_aggregation(ld, pool):
    async with pool.acquire() as conn:
        hourly = await conn.fetch(
            "SELECT date_trunc('day', time) AS day, avg(value), count(*) FROM readings r "
            "JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id "
            "WHERE s.external_id = 'AQ02' AND v.name = 'pm10' AND NOT flagged "
            "AND time >= '2026-11-02' AND time < '2026-11-04' GROUP BY 1 ORDER BY 1"
        )
    entity = "urn:ngsi-ld:AirQualityObserved:AQ02"
    params = {
        "timerel": "between",
        "timeAt": "2026-11-02T00:00:00Z",
        "endTimeAt": "2026-11-04T00:00:00Z",
        "attrs": "pm10",
        "aggrMethods": "avg,totalCount",
        "aggrPeriodDuration": "P1D",
    }
    answer = await ld.get(f"/ngsi-ld/v1/temporal/entities/{entity}", params=params)
    assert answer.status_code == 200, answer.text
    pm10 = answer.json()["pm10"]
    assert [v[0] for v in pm10["avg"]] == [pytest.approx(r["avg"]) for r in hourly]
    assert [v[0] for v in pm10["totalCount"]] == [r["count"] for r in hourly]
    assert pm10["avg"][0][1:] == ["2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"]
    last = await ld.get(
        f"/ngsi-ld/v1/temporal/entities/{entity}",
        params={"attrs": "pm10", "lastN": "2", "options": "temporalValues"},
    )
    values = last.json()["pm10"]["values"]
    assert len(values) == 2 and values[0][1] < values[1][1]


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"q": "no2>>3"}, "position"),
        ({"q": "no2>abc"}, "'abc' at position 4 is not a number"),
        ({"colour": "red"}, "unknown parameter"),
        ({"georel": "near;maxDistance==5"}, "needs geometry and coordinates"),
        ({"georel": "within", "geometry": "Polygon", "coordinates": "[1]"}, "georel:"),
        ({"timerel": "before"}, "unknown parameter"),
    ],
)
async def test_bad_input_is_problem_json(ld, params, text):
    answer = await ld.get("/ngsi-ld/v1/entities", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert text in body["detail"]


async def test_unknown_entity_is_404(ld):
    answer = await ld.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:nowhere")
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_types_and_attributes_held(ld):
    types = (await ld.get("/ngsi-ld/v1/types")).json()
    assert types["typeList"] == ["ACMeasurement", "AirQualityObserved", "TrafficFlowObserved"]
    attributes = (await ld.get("/ngsi-ld/v1/attributes")).json()["attributeList"]
    assert {"no2", "pm25", "intensity", "averageVehicleSpeed", "occupancy"} <= set(attributes)


async def test_answers_name_the_context_this_service_serves(ld):
    contexts = (await ld.get("/ngsi-ld/v1/jsonldContexts")).json()
    assert contexts == ["http://citytwin/ngsi-ld/v1/jsonldContexts/citytwin"]
    served = await ld.get(contexts[0].removeprefix("http://citytwin"))
    assert served.headers["content-type"] == "application/ld+json"
    core, terms = served.json()["@context"]
    assert core == "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
    assert terms["no2"] == "https://smartdatamodels.org/dataModel.Environment/no2"
    assert terms["intensity"] == "https://smartdatamodels.org/dataModel.Transportation/intensity"
    entities = await ld.get("/ngsi-ld/v1/entities", params={"type": "AirQualityObserved"})
    assert entities.headers["link"].startswith(f"<{contexts[0]}>;")
    as_ld = await ld.get(
        "/ngsi-ld/v1/entities",
        params={"type": "AirQualityObserved", "limit": "1"},
        headers={"Accept": "application/ld+json"},
    )
    assert as_ld.json()[0]["@context"] == contexts[0]
    missing = await ld.get("/ngsi-ld/v1/jsonldContexts/elsewhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
