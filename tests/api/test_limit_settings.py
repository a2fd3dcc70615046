"""Every page and protocol bound is a setting: a service started with small ones answers by
them, with errors naming the parameter and the configured number."""

import pytest

from citytwin.api.app import create_app
from tests.asgi import asgi_client
from tests.factories import API_KEY

pytestmark = pytest.mark.usefixtures("demo_city")

SQUARE = "POLYGON((9.50 47.10, 9.56 47.10, 9.56 47.16, 9.50 47.16, 9.50 47.10))"  # 5 vertices
DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")


@pytest.fixture(scope="module")
async def small(settings, pool, demo_city):
    limits = settings.updated(
        max_page_size=3,
        record_page_size=2,
        area_max_vertices=4,
        series_max_periods=10,
        temporal_max_instances=2,
    )
    async with asgi_client(create_app(limits)) as client:
        yield client


@pytest.mark.parametrize("path", ["/sensors", "/readings"])
async def test_a_page_past_max_page_size_is_refused_naming_limit(small, path):
    assert len((await small.get(path, params={"limit": 3})).json()["features"]) == 3
    answer = await small.get(path, params={"limit": 4})
    assert answer.status_code == 400
    assert (answer.json()["parameter"], answer.json()["detail"]) == ("limit", "4 is outside 1..3")


@pytest.mark.parametrize("path", ["/deadletters", "/scenarios"])
async def test_record_lists_stop_at_record_page_size(small, path):
    headers = {"X-API-Key": API_KEY}
    assert (await small.get(path, params={"limit": 2}, headers=headers)).status_code == 200
    answer = await small.get(path, params={"limit": 3}, headers=headers)
    assert answer.status_code == 400
    assert (answer.json()["parameter"], answer.json()["detail"]) == ("limit", "3 is outside 1..2")


async def test_ogc_items_are_served_at_max_page_size(small):
    page = (await small.get("/ogc/collections/sensors/items", params={"limit": 50})).json()
    assert page["numberReturned"] == 3
    assert page["numberMatched"] > 3


async def test_sensorthings_max_top_is_the_page_size(small):
    root = (await small.get("/v1.1")).json()
    assert root["serverSettings"][
        "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data"
    ] == {"maxTop": 3}
    assert len((await small.get("/v1.1/Things", params={"$top": 3})).json()["value"]) == 3
    refused = await small.get("/v1.1/Things", params={"$top": 4})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "at most 3"


async def test_a_polygon_past_area_max_vertices_is_refused(small):
    answer = await small.get("/sensors", params={"polygon": SQUARE})
    assert answer.status_code == 400
    assert (answer.json()["parameter"], answer.json()["detail"]) == (
        "polygon",
        "more than 4 vertices",
    )


async def test_aggregates_past_series_max_periods_are_refused(small):
    params = {
        "timerel": "between",
        "timeAt": DAY[0],
        "endTimeAt": DAY[1],
        "attrs": "pm10",
        "aggrMethods": "avg",
    }
    entity = "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:AQ02"
    daily = await small.get(entity, params={**params, "aggrPeriodDuration": "P1D"})
    assert daily.status_code == 200, daily.text
    hourly = await small.get(entity, params={**params, "aggrPeriodDuration": "PT1H"})
    assert hourly.status_code == 400
    assert hourly.json()["detail"].endswith("24 periods asked; at most 10")


async def test_temporal_instances_stop_at_temporal_max_instances(small):
    entity = "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:AQ02"
    params = {"attrs": "pm10", "options": "temporalValues"}
    first = (await small.get(entity, params=params)).json()["pm10"]["values"]
    newest = (await small.get(entity, params={**params, "lastN": "5"})).json()["pm10"]["values"]
    assert len(first) == len(newest) == 2
    assert first[0][1] < first[1][1] < newest[0][1] < newest[1][1]
