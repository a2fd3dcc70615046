"""OGC API - Features Part 2 at `/ogc`: `crs`, `bbox-crs`, `Content-Crs`, the collections' CRS
lists; coordinates checked against pyproj."""

import pytest
from pyproj import Transformer

from tests.conftest import COUNTRY, city_imported
from tests.factories import STATIONS, air_rows, post_readings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
UTM = 32632  # Vaduz lies in UTM zone 32 north


@pytest.fixture
async def loaded(client, conn):
    async with city_imported(conn, COUNTRY):
        await post_readings(client, air_rows(hours=2))
        yield client


def to(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)


async def test_collections_list_the_crs_they_answer_in(loaded):
    sensors = (await loaded.get("/ogc/collections/sensors")).json()
    assert sensors["crs"] == [CRS84, EPSG.format(4326), EPSG.format(3857), EPSG.format(UTM)]
    assert sensors["storageCrs"] == CRS84
    listed = (await loaded.get("/ogc/collections")).json()["collections"]
    assert all(item["crs"] == sensors["crs"] for item in listed)


@pytest.mark.parametrize("epsg", [3857, UTM])
async def test_items_in_a_projected_crs(loaded, epsg):
    answer = await loaded.get(
        "/ogc/collections/sensors/items", params={"crs": EPSG.format(epsg), "external_id": "S3"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-crs"] == f"<{EPSG.format(epsg)}>"
    [item] = answer.json()["features"]
    assert item["geometry"]["coordinates"] == pytest.approx(to(epsg, *STATIONS["S3"]), abs=1e-6)


async def test_epsg_4326_is_lat_lon_both_ways(loaded):
    lon, lat = STATIONS["S3"]
    answer = await loaded.get("/ogc/collections/sensors/items/3", params={"crs": "EPSG:4326"})
    assert answer.headers["content-crs"] == f"<{EPSG.format(4326)}>"
    assert answer.json()["geometry"]["coordinates"] == pytest.approx([lat, lon])
    # The south box (9.50, 47.11, 9.515, 47.13) written lat first.
    south = await loaded.get(
        "/ogc/collections/sensors/items",
        params={"bbox": "47.11,9.50,47.13,9.515", "bbox-crs": EPSG.format(4326)},
    )
    assert [item["properties"]["external_id"] for item in south.json()["features"]] == ["S3"]
    plain = await loaded.get("/ogc/collections/sensors/items", params={"limit": 1})
    assert plain.headers["content-crs"] == f"<{CRS84}>"


async def test_a_bbox_in_web_mercator(loaded):
    west, south = to(3857, 9.50, 47.11)
    east, north = to(3857, 9.515, 47.13)
    answer = await loaded.get(
        "/ogc/collections/cells-r10-no2/items",
        params={"bbox": f"{west},{south},{east},{north}", "bbox-crs": "EPSG:3857"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["numberMatched"] == 1  # S3's hexagon only


@pytest.mark.parametrize(
    ("params", "parameter", "detail"),
    [
        ({"crs": "EPSG:2056"}, "crs", "'EPSG:2056' is not one of http://www.opengis.net/def/crs"),
        ({"bbox": "1,2,3,4", "bbox-crs": "EPSG:9999"}, "bbox-crs", "'EPSG:9999' is not one of"),
        ({"crs": "EPSG:3857", "f": "parquet"}, "crs", "GeoParquet answers are in CRS84 only"),
    ],
)
async def test_other_crs_are_400s_naming_the_parameter(loaded, params, parameter, detail):
    answer = await loaded.get("/ogc/collections/sensors/items", params=params)
    assert answer.status_code == 400
    assert answer.json()["parameter"] == parameter
    assert detail in answer.json()["detail"]
