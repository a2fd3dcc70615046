"""OGC API - Features at `/ogc` over real PostGIS: documents, items, paging, filters, errors."""

import io
from collections.abc import AsyncIterator

import geopandas as gpd
import h3.api.basic_str as h3
import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate
from shapely.geometry import box, shape

from citytwin.query.ogc import CONFORMANCE
from tests.conftest import COUNTRY, ROOT, city_imported
from tests.factories import STATIONS, air_rows, post_readings

DISTRICTS = ROOT / "gis_data" / "districts.geojson"
SOUTH = "9.50,47.11,9.515,47.13"  # holds S3 only


@pytest.fixture
async def districts(conn) -> AsyncIterator[gpd.GeoDataFrame]:
    async with city_imported(conn, COUNTRY) as base:
        assert len(base.districts) == 11
        yield gpd.read_file(DISTRICTS)


def links_of(document: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in document["links"]}


def external_ids(document: dict) -> list[str]:
    return [item["properties"]["external_id"] for item in document["features"]]


async def test_landing_page_and_conformance(client):
    for path in ("/ogc", "/ogc/"):
        answer = await client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        links = links_of(answer.json())
        assert links["self"]["href"] == "http://citytwin/ogc"
        assert links["service-desc"] == {
            "rel": "service-desc",
            "href": "http://citytwin/ogc/api",
            "type": "application/vnd.oai.openapi+json;version=3.0",
            "title": "The API definition (OpenAPI)",
        }
        assert links["service-doc"]["href"] == "http://citytwin/docs"
        assert links["conformance"]["href"] == "http://citytwin/ogc/conformance"
        assert links["data"]["href"] == "http://citytwin/ogc/collections"
    conformance = await client.get("/ogc/conformance")
    assert conformance.json() == {"conformsTo": CONFORMANCE}


async def test_the_openapi_document_describes_the_ogc_paths(client):
    answer = await client.get("/openapi-3.0.json")
    assert answer.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    spec = answer.json()
    validate(spec)  # a valid OpenAPI 3.0 document, as the oas30 conformance class asks
    assert spec["openapi"] == "3.0.3"
    assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")
    items = spec["paths"]["/ogc/collections/{collectionId}/items"]["get"]
    parameters = {p["name"]: p for p in items["parameters"]}
    assert {"collectionId", "bbox", "datetime", "limit", "offset", "variable", "f"} <= set(
        parameters
    )
    limit = {"minimum": 1, "default": 10}  # no maximum: a larger limit is capped, not refused
    assert limit.items() <= parameters["limit"]["schema"].items()
    assert "application/geo+json" in items["responses"]["200"]["content"]
    item = spec["paths"]["/ogc/collections/{collectionId}/items/{featureId}"]["get"]
    assert {p["name"] for p in item["parameters"]} >= {"collectionId", "featureId"}


async def test_the_ogc_service_describes_itself_relative_to_its_landing_page(client):
    await post_readings(client, air_rows(hours=2))
    answer = await client.get("/ogc/api")
    assert answer.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    spec = answer.json()
    validate(spec)
    assert spec["servers"] == [{"url": "http://citytwin/ogc"}]
    paths = spec["paths"]
    assert {"/", "/conformance", "/collections", "/collections/{collectionId}/items"} <= set(paths)
    assert not any(path.startswith("/ogc") for path in paths)
    assert "/sensors" not in paths and "/cells" not in paths  # the rest of the API is elsewhere
    # One items path per collection, declaring its queryables as parameters (GDAL pushes a
    # -where down only for the properties the operation declares).
    sensors = {p["name"]: p for p in paths["/collections/sensors/items"]["get"]["parameters"]}
    assert "collectionId" not in sensors
    assert {"feed", "external_id", "name", "h3", "mobile", "id", "filter", "sortby"} <= set(sensors)
    assert sensors["mobile"]["schema"] == {"type": "boolean"}
    assert sensors["filter-lang"]["schema"]["enum"] == ["cql2-text", "cql2-json", "cql-text"]
    no2 = {p["name"] for p in paths["/collections/cells-r8-no2/items"]["get"]["parameters"]}
    assert {"h3", "count", "mean", "min", "max", "std"} <= no2 and "variable" not in no2
    mixed = {p["name"] for p in paths["/collections/cells-r8/items"]["get"]["parameters"]}
    assert "variable" in mixed and "variable" not in sensors
    operation_ids = [
        operation["operationId"] for item in paths.values() for operation in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


async def test_collections_with_extents_from_the_data(client, districts):
    await post_readings(client, air_rows(hours=48))
    document = (await client.get("/ogc/collections")).json()
    by_id = {item["id"]: item for item in document["collections"]}
    assert list(by_id) == [
        "sensors",
        "districts",
        "roads",
        "buildings",
        *(f"cells-r{n}" for n in range(11)),
        *(f"cells-r{n}-{name}" for name in ("no2", "pm25") for n in range(11)),
    ]
    sensors = by_id["sensors"]
    lons, lats = zip(*STATIONS.values(), strict=True)
    np.testing.assert_allclose(
        sensors["extent"]["spatial"]["bbox"][0], [min(lons), min(lats), max(lons), max(lats)]
    )
    assert sensors["extent"]["temporal"]["interval"] == [
        ["2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z"]
    ]
    assert (sensors["itemType"], sensors["crs"][0]) == (
        "feature",
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    )
    assert [link for link in sensors["links"] if link["rel"] == "items"] == [
        {
            "rel": "items",
            "href": "http://citytwin/ogc/collections/sensors/items",
            "type": "application/geo+json",
            "title": "Items as GeoJSON",
        },
        {
            "rel": "items",
            "href": "http://citytwin/ogc/collections/sensors/items?f=parquet",
            "type": "application/vnd.apache.parquet",
            "title": "Items as GeoParquet",
        },
    ]
    np.testing.assert_allclose(
        by_id["districts"]["extent"]["spatial"]["bbox"][0], districts.total_bounds, atol=1e-9
    )
    assert "temporal" not in by_id["districts"]["extent"]
    cells = by_id["cells-r8"]
    assert "/cells/{h3}/series" in cells["description"] and "bucket" in cells["description"]
    # Every hexagon lies inside the collection's extent, at coarse and fine resolutions.
    for resolution in (0, 5, 8, 10):
        west, south, east, north = by_id[f"cells-r{resolution}"]["extent"]["spatial"]["bbox"][0]
        items = await client.get(f"/ogc/collections/cells-r{resolution}/items?limit=1000")
        for item in items.json()["features"]:
            assert box(west, south, east, north).contains(shape(item["geometry"]))
    one = await client.get("/ogc/collections/cells-r8")
    assert one.json() == cells


@pytest.mark.parametrize("collection", ["water", "cells-r11", "cells-r08", "cells-"])
async def test_unknown_collections_are_404(client, collection):
    for path in (f"/ogc/collections/{collection}", f"/ogc/collections/{collection}/items"):
        answer = await client.get(path)
        assert answer.status_code == 404
        assert answer.json()["detail"] == f"collection {collection!r} not found"


async def test_an_empty_store_has_collections_without_extents(client):
    sensors = (await client.get("/ogc/collections/sensors")).json()
    assert "extent" not in sensors
    items = (await client.get("/ogc/collections/sensors/items")).json()
    assert (items["numberMatched"], items["numberReturned"], items["features"]) == (0, 0, [])


async def test_sensor_items_page_with_next_and_prev_links(client):
    await post_readings(client, air_rows(hours=1))
    first = await client.get(
        "/ogc/collections/sensors/items", params={"limit": 2, "bbox": "9.4,47.0,9.6,47.2"}
    )
    assert first.headers["content-type"] == "application/geo+json"
    page = first.json()
    assert (page["type"], page["numberMatched"], page["numberReturned"]) == (
        "FeatureCollection",
        3,
        2,
    )
    assert page["timeStamp"].endswith("Z")
    assert external_ids(page) == ["S1", "S2"]
    s1 = page["features"][0]
    assert s1["id"] == 1
    assert s1["geometry"] == {"type": "Point", "coordinates": list(STATIONS["S1"])}
    lon, lat = STATIONS["S1"]
    assert s1["properties"] == {
        "id": 1,
        "feed": "air",
        "external_id": "S1",
        "name": None,
        "h3": h3.latlng_to_cell(lat, lon, 10),
        "mobile": False,
    }
    links = links_of(page)
    assert links["self"]["href"] == (
        "http://citytwin/ogc/collections/sensors/items?limit=2&bbox=9.4%2C47.0%2C9.6%2C47.2"
    )
    assert links["collection"]["href"] == "http://citytwin/ogc/collections/sensors"
    assert links["next"]["href"] == (
        "http://citytwin/ogc/collections/sensors/items?limit=2&bbox=9.4,47.0,9.6,47.2&offset=2"
    )
    assert "prev" not in links
    second = (await client.get(links["next"]["href"])).json()
    assert (external_ids(second), second["numberMatched"]) == (["S3"], 3)
    assert "next" not in links_of(second)
    assert links_of(second)["prev"]["href"].endswith("limit=2&bbox=9.4,47.0,9.6,47.2&offset=0")
    beyond = (await client.get("/ogc/collections/sensors/items?offset=10")).json()
    assert (beyond["numberMatched"], beyond["numberReturned"]) == (3, 0)
    assert links_of(beyond)["prev"]["href"].endswith("offset=0")


async def test_a_limit_above_the_maximum_is_capped_and_the_links_say_so(client):
    await post_readings(client, air_rows(hours=1))
    answer = await client.get("/ogc/collections/sensors/items", params={"limit": 20_000})
    assert answer.status_code == 200
    page = answer.json()
    assert (page["numberMatched"], page["numberReturned"]) == (3, 3)
    links = links_of(page)
    assert links["self"]["title"] == "This page (limit capped at 10000)"
    assert links["alternate"] == {
        "rel": "alternate",
        "href": "http://citytwin/ogc/collections/sensors/items?limit=10000&f=parquet",
        "type": "application/vnd.apache.parquet",
        "title": "This page as GeoParquet",
    }
    later = (await client.get("/ogc/collections/sensors/items?limit=20000&offset=2")).json()
    assert links_of(later)["prev"]["href"].endswith("?limit=10000&offset=0")


async def test_unknown_parameters_are_refused_naming_every_one(client):
    answer = await client.get("/ogc/collections/sensors/items", params={"limti": 5, "filtr": "x"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["parameter"] == "filtr,limti"
    assert "unknown query parameters" in body["detail"] and "limit" in body["detail"]


async def test_a_bbox_of_six_numbers_ignores_the_heights(client):
    await post_readings(client, air_rows(hours=1))
    flat = await client.get(
        "/ogc/collections/sensors/items", params={"bbox": "9.515,47.13,9.53,47.15"}
    )
    tall = await client.get(
        "/ogc/collections/sensors/items", params={"bbox": "9.515,47.13,-10,9.53,47.15,3000"}
    )
    assert external_ids(tall.json()) == external_ids(flat.json()) == ["S1", "S2"]


async def test_sensor_items_by_bbox_and_datetime(client):
    rows = air_rows(hours=4)
    # S3 reports a day later than S1 and S2.
    late = rows["sensor_id"] == "S3"
    rows.loc[late, "time"] = (
        pd.to_datetime(rows.loc[late, "time"]) + pd.Timedelta("1D")
    ).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    await post_readings(client, rows)

    async def ids(**params) -> list[str]:
        answer = await client.get("/ogc/collections/sensors/items", params=params)
        assert answer.status_code == 200, answer.text
        return external_ids(answer.json())

    assert await ids(bbox=SOUTH) == ["S3"]
    assert await ids(datetime="2026-11-02T00:00:00Z/2026-11-02T12:00:00Z") == ["S1", "S2"]
    assert await ids(datetime="2026-11-03T01:00:00Z") == ["S3"]
    assert await ids(datetime="2026-11-03T01:30:00Z") == []
    assert await ids(datetime="2026-11-03T00:00:00Z/..") == ["S3"]
    assert await ids(datetime="../2026-11-02T00:00:00Z") == []  # the end is excluded
    assert await ids(datetime="../2026-11-02T00:00:01Z") == ["S1", "S2"]
    assert await ids(datetime="2026-11-02T00:00:00Z/..", bbox=SOUTH) == ["S3"]


async def test_one_sensor(client):
    await post_readings(client, air_rows(hours=1))
    answer = await client.get("/ogc/collections/sensors/items/3")
    assert answer.headers["content-type"] == "application/geo+json"
    item = answer.json()
    assert (item["type"], item["id"], item["properties"]["external_id"]) == ("Feature", 3, "S3")
    assert links_of(item)["collection"]["href"] == "http://citytwin/ogc/collections/sensors"
    for missing in ("999", "abc", "99999999999", "-1"):
        answer = await client.get(f"/ogc/collections/sensors/items/{missing}")
        assert answer.status_code == 404
        assert answer.json() == {
            "error": "NotFound",
            "detail": f"sensors feature {missing!r} not found",
        }


async def test_district_items_are_the_municipalities(client, districts):
    document = (await client.get("/ogc/collections/districts/items?limit=100")).json()
    assert (document["numberMatched"], document["numberReturned"]) == (11, 11)
    assert [item["id"] for item in document["features"]] == sorted(districts["id"])
    stored = {item["id"]: item for item in document["features"]}
    for row in districts.itertuples():
        item = stored[row.id]
        assert item["properties"] == {"id": row.id, "name": row.name}
        assert item["geometry"]["type"] == "MultiPolygon"
        assert shape(item["geometry"]).equals_exact(row.geometry, 1e-9)
    valley = (9.495076, 47.121943, 9.557273, 47.163576)
    touching = await client.get(
        "/ogc/collections/districts/items", params={"bbox": ",".join(map(str, valley))}
    )
    expected = sorted(districts.loc[districts.intersects(box(*valley)), "id"])
    assert "vaduz" in expected and len(expected) < 11
    assert [item["id"] for item in touching.json()["features"]] == expected
    vaduz = await client.get("/ogc/collections/districts/items/vaduz")
    assert vaduz.json()["properties"] == {"id": "vaduz", "name": "Vaduz"}
    assert (await client.get("/ogc/collections/districts/items/atlantis")).status_code == 404
    # Districts have no time: datetime is checked, then ignored.
    timed = await client.get("/ogc/collections/districts/items?datetime=2026-11-02T00:00:00Z")
    assert timed.json()["numberMatched"] == 11


def expected_cells(rows: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """The aggregates computed independently: h3 per row, pandas groupby."""
    frame = rows.copy()
    frame["h3"] = [
        h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), resolution)
        for lon, lat in zip(frame["lon"], frame["lat"], strict=True)
    ]
    grouped = frame.groupby(["h3", "variable"])["value"]
    return grouped.agg(["count", "mean", "min", "max", "std"]).reset_index()


def cell_table(document: dict) -> pd.DataFrame:
    return pd.DataFrame([item["properties"] for item in document["features"]])


def assert_cells_match(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(zip(got["h3"], got["variable"], strict=True)) == list(
        zip(want["h3"], want["variable"], strict=True)
    )
    assert got["count"].tolist() == want["count"].tolist()
    for column in ("mean", "min", "max", "std"):
        np.testing.assert_allclose(got[column].astype(float), want[column], rtol=1e-9)


@pytest.mark.parametrize("resolution", [10, 8, 5])
async def test_cell_items_match_an_independent_computation(client, resolution):
    rows = air_rows(hours=48)
    await post_readings(client, rows)
    answer = await client.get(f"/ogc/collections/cells-r{resolution}/items?limit=10000")
    document = answer.json()
    want = expected_cells(rows, resolution)
    assert document["numberMatched"] == len(want)
    got = cell_table(document)
    assert_cells_match(got, want)
    assert set(got["unit"]) == {"µg/m³"}
    first = document["features"][0]
    assert first["id"] == f"{first['properties']['h3']}:{first['properties']['variable']}"
    ring = [tuple(p) for p in first["geometry"]["coordinates"][0]]
    hexagon = [(lng, lat) for lat, lng in h3.cell_to_boundary(first["properties"]["h3"])]
    np.testing.assert_allclose(ring[:-1], hexagon, atol=1e-7)


async def test_cell_items_aggregate_over_the_datetime_window(client):
    rows = air_rows(hours=48)
    await post_readings(client, rows)
    day = await client.get(
        "/ogc/collections/cells-r9/items",
        params={"datetime": "2026-11-02T00:00:00Z/2026-11-03T00:00:00Z", "limit": 100},
    )
    first_day = rows[pd.to_datetime(rows["time"]) < pd.Timestamp("2026-11-03", tz="UTC")]
    assert_cells_match(cell_table(day.json()), expected_cells(first_day, 9))
    # An instant is the rollup bucket holding it: 05:30 → the 05:00 reading.
    instant = await client.get(
        "/ogc/collections/cells-r10/items",
        params={"datetime": "2026-11-02T05:30:00Z", "variable": "no2"},
    )
    at_five = rows[(rows["time"] == "2026-11-02T05:00:00Z") & (rows["variable"] == "no2")]
    assert_cells_match(cell_table(instant.json()), expected_cells(at_five, 10))
    later = await client.get("/ogc/collections/cells-r10/items?datetime=2027-01-01T00:00:00Z/..")
    assert later.json()["numberMatched"] == 0


async def test_cell_items_by_bbox_keep_whole_hexagons(client):
    rows = air_rows(hours=6)
    await post_readings(client, rows)
    # One resolution-5 hexagon holds all three stations; a bbox around S3 alone touches it,
    # and its aggregates still count every station's readings.
    coarse = (await client.get("/ogc/collections/cells-r5/items", params={"bbox": SOUTH})).json()
    assert_cells_match(cell_table(coarse), expected_cells(rows, 5))
    fine = (await client.get("/ogc/collections/cells-r10/items", params={"bbox": SOUTH})).json()
    s3 = rows[rows["sensor_id"] == "S3"]
    assert_cells_match(cell_table(fine), expected_cells(s3, 10))
    far = await client.get("/ogc/collections/cells-r5/items", params={"bbox": "0,0,1,1"})
    assert far.json()["numberMatched"] == 0


async def test_cell_items_of_one_variable_page_by_offset(client):
    rows = air_rows(hours=2)
    await post_readings(client, rows)
    want = expected_cells(rows[rows["variable"] == "pm25"], 10)
    seen, url = [], "/ogc/collections/cells-r10/items?variable=pm25&limit=2"
    while url:
        document = (await client.get(url)).json()
        assert document["numberMatched"] == 3
        seen += document["features"]
        url = links_of(document).get("next", {}).get("href")
    assert_cells_match(cell_table({"features": seen}), want)


async def test_one_cell_feature(client):
    rows = air_rows(hours=3)
    await post_readings(client, rows)
    lon, lat = STATIONS["S3"]
    cell = h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), 8)
    one = await client.get(f"/ogc/collections/cells-r8/items/{cell}:pm25")
    assert one.headers["content-type"] == "application/geo+json"
    item = one.json()
    assert item["id"] == f"{cell}:pm25"
    values = rows[(rows["sensor_id"] == "S3") & (rows["variable"] == "pm25")]["value"]
    assert (item["properties"]["count"], item["properties"]["max"]) == (3, values.max())
    # Without a variable: the cell's first variable, the others linked as alternates.
    bare = (await client.get(f"/ogc/collections/cells-r8/items/{cell}")).json()
    assert bare["id"] == f"{cell}:no2"
    assert links_of(bare)["alternate"]["href"] == (
        f"http://citytwin/ogc/collections/cells-r8/items/{cell}:pm25"
    )
    windowed = await client.get(
        f"/ogc/collections/cells-r8/items/{cell}:pm25?datetime=2026-11-02T01:00:00Z"
    )
    assert windowed.json()["properties"]["count"] == 1
    for missing in (
        f"{cell}:vehicle_count",  # a variable without data here
        f"{cell}:water",
        h3.cell_to_parent(cell, 7),  # a cell of another resolution
        h3.latlng_to_cell(0, 0, 8),  # a cell without data
        "zzz",
    ):
        answer = await client.get(f"/ogc/collections/cells-r8/items/{missing}")
        assert answer.status_code == 404, missing
        assert answer.json()["detail"] == f"cells-r8 feature {missing!r} not found"


async def test_items_as_geoparquet(client):
    await post_readings(client, air_rows(hours=2))
    sensors = await client.get("/ogc/collections/sensors/items?f=parquet")
    assert sensors.headers["content-type"] == "application/vnd.apache.parquet"
    table = gpd.read_parquet(io.BytesIO(sensors.content))
    assert table.crs.to_epsg() == 4326
    assert table["external_id"].tolist() == ["S1", "S2", "S3"]
    assert (table.geometry.x.iloc[2], table.geometry.y.iloc[2]) == STATIONS["S3"]
    cells = await client.get(
        "/ogc/collections/cells-r9/items",
        headers={"Accept": "application/vnd.apache.parquet"},
        params={"limit": 100},
    )
    hexagons = gpd.read_parquet(io.BytesIO(cells.content))
    assert len(hexagons) == len(expected_cells(air_rows(hours=2), 9))
    assert set(hexagons.geom_type) == {"Polygon"}
    one = await client.get("/ogc/collections/sensors/items/1?f=parquet")
    assert gpd.read_parquet(io.BytesIO(one.content))["external_id"].tolist() == ["S1"]
    as_json = await client.get("/ogc/collections/sensors/items?f=json")
    assert as_json.json()["numberReturned"] == 3


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/ogc/collections/sensors/items?bbox=1,2,3", "bbox"),
        ("/ogc/collections/sensors/items?bbox=9.6,47.0,9.5,47.2", "bbox"),
        ("/ogc/collections/sensors/items?bbox=9.5,47.2,9.6,47.0", "bbox"),
        ("/ogc/collections/cells-r8/items?bbox=a,b,c,d", "bbox"),
        ("/ogc/collections/sensors/items?limit=0", "limit"),
        ("/ogc/collections/sensors/items?colour=red", "colour"),
        ("/ogc/collections/sensors/items?zz=1&aa=2", "aa,zz"),
        ("/ogc?foo=1", "foo"),
        ("/ogc/collections/cells-r8/tiles?bar=1", "bar"),
        ("/ogc/collections/sensors/items?bbox=9.4,47.0,0,9.6,47.2", "bbox"),
        ("/ogc/collections/sensors/items?offset=-1", "offset"),
        ("/ogc/collections/sensors/items?datetime=yesterday", "datetime"),
        ("/ogc/collections/cells-r8/items?datetime=2026-11-03T00:00:00Z/2026-11-02", "datetime"),
        ("/ogc/collections/districts/items?datetime=2026-13-01T00:00:00Z", "datetime"),
        ("/ogc/collections/sensors/items?f=xml", "f"),
        ("/ogc/collections?f=xml", "f"),
        ("/ogc/collections/cells-r8/items?variable=water", "variable"),
        ("/ogc/collections/sensors/items?variable=no2", "variable"),
        ("/ogc/collections/roads/items?site_type=traffic", "site_type"),
    ],
)
async def test_bad_parameters_are_400_naming_them(client, path, parameter):
    answer = await client.get(path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


async def test_pages_for_people(client, districts):
    landing = await client.get("/ogc", params={"f": "html"})
    assert landing.headers["content-type"] == "text/html; charset=utf-8"
    assert '<a href="http://citytwin/ogc/collections">The collections</a>' in landing.text
    listing = (await client.get("/ogc/collections", params={"f": "html"})).text
    assert '<a href="http://citytwin/ogc/collections/districts?f=html">districts</a>' in listing
    one = (await client.get("/ogc/collections/districts", params={"f": "html"})).text
    assert "<h1>Districts</h1>" in one and "/ogc/collections/districts/queryables" in one
    items = await client.get(
        "/ogc/collections/districts/items", params={"f": "html", "sortby": "name", "limit": 2}
    )
    assert items.headers["content-type"] == "text/html; charset=utf-8"
    assert "<p>2 of 11 features</p>" in items.text
    assert (
        "<tr><th>id</th><th>name</th></tr><tr><td>balzers</td><td>Balzers</td></tr>" in items.text
    )
    browser = await client.get("/ogc/collections/districts/items", headers={"Accept": "text/html"})
    assert browser.headers["content-type"].startswith("text/html")
    vaduz = await client.get("/ogc/collections/districts/items/vaduz", params={"f": "html"})
    assert "<td>vaduz</td><td>Vaduz</td>" in vaduz.text
