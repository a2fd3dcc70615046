"""Read-side input the store cannot hold is a 400 naming the parameter, never a 500."""

import pytest

from tests.factories import API_KEY

BIG = "99999999999999999999"  # beyond 64 bits
CURSOR_9999 = "WzEsMSwiOTk5OS0xMi0zMVQyMzowMDowMC0wNTowMCJd"  # [1, 1, "9999-12-31T23:00-05:00"]

CASES = [
    (f"/sensors/{BIG}", "sensor_id"),
    ("/sensors/2147483648", "sensor_id"),
    (f"/sensors?after={BIG}", "after"),
    (f"/readings?sensor={BIG}", "sensor"),
    ("/readings?sensor=2147483648", "sensor"),
    (f"/readings?cursor={CURSOR_9999}", "cursor"),
    ("/readings?start=9999-12-31T23:00:00-05:00", "start"),
    ("/readings?start=0001-01-01T00:00:00%2B05:00", "start"),
    ("/cells?variable=no2&resolution=8&end=9999-12-31T23:30:00", "end"),
    (f"/cells?variable=no2&resolution=8&bucket={BIG}d", "bucket"),
    ("/cells?variable=no2&resolution=8&bucket=9999999999d", "bucket"),
    ("/cells?variable=no2&cells=zzzzzzzzzzzzzzz", "cells"),
    ("/cells/ffffffffffffffff/series?variable=no2", "h3"),
    (f"/scenarios?offset={BIG}", "offset"),
    (f"/deadletters?offset={BIG}", "offset"),
    (f"/ogc/collections/sensors/items?offset={BIG}", "offset"),
    ("/ogc/collections/sensors/items?datetime=9999-12-31T23:00:00-05:00/..", "datetime"),
    ("/ogc/collections/cells-r8/items?variable=no2&datetime=9999-12-31T23:59:59Z", "datetime"),
    ("/twin/state?now=9999-12-31T23:00:00-05:00", "now"),
    (f"/twin/stream?after={BIG}", "after"),
    ("/scenarios/ab%00", "path"),
    ("/sensors?feed=a%00", "feed"),
    ("/readings?variable=no%002", "variable"),
]


@pytest.mark.parametrize(("url", "parameter"), CASES)
async def test_out_of_range_input_is_a_400_naming_the_parameter(client, url, parameter):
    answer = await client.get(url, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["parameter"] == parameter


async def test_the_9999_date_says_what_range_is_allowed(client):
    answer = await client.get("/readings?end=9999-12-31T00:00:00Z")
    assert answer.json()["detail"] == "must be between 0001-01-02 and 9999-12-30"
