"""OGC API - Features Part 3 at `/ogc` over real PostGIS: queryables, CQL2 filters (text and
JSON), `name=value` parameters, sortby, properties, and the cell collections of one variable."""

import json

import pytest

from tests.conftest import COUNTRY, city_imported
from tests.factories import air_rows, post_readings

WINDOW = "2026-11-02T00:00:00Z/2026-11-02T06:00:00Z"


@pytest.fixture
async def loaded(client, conn):
    async with city_imported(conn, COUNTRY):
        await post_readings(client, air_rows(hours=24))
        yield client


def ids(document: dict, key: str = "external_id") -> list:
    return [item["properties"][key] for item in document["features"]]


async def test_queryables_per_collection(client):
    answer = await client.get("/ogc/collections/sensors/queryables")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/schema+json"
    schema = answer.json()
    assert schema["$id"] == "http://citytwin/ogc/collections/sensors/queryables"
    assert schema["properties"]["feed"] == {
        "title": "feed",
        "description": "The feed the sensor belongs to, e.g. air.",
        "type": "string",
    }
    roads = (await client.get("/ogc/collections/roads/queryables")).json()["properties"]
    assert (roads["maxspeed"]["type"], roads["lanes"]["type"], roads["oneway"]["type"]) == (
        "number",
        "integer",
        "boolean",
    )
    cells = (await client.get("/ogc/collections/cells-r8/queryables")).json()["properties"]
    assert list(cells) == ["h3", "variable", "count", "mean", "min", "max", "std"]
    collection = (await client.get("/ogc/collections/sensors")).json()
    assert {
        "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
        "href": "http://citytwin/ogc/collections/sensors/queryables",
        "type": "application/schema+json",
        "title": "Queryables (JSON Schema)",
    } in collection["links"]


async def test_cql2_text_json_and_property_parameters_filter_on_the_server(loaded):
    base = "/ogc/collections/sensors/items"
    text = await loaded.get(base, params={"filter": "external_id IN ('S1', 'S3')"})
    assert (text.json()["numberMatched"], ids(text.json())) == (2, ["S1", "S3"])
    as_json = {"op": "=", "args": [{"property": "external_id"}, "S2"]}
    answer = await loaded.get(
        base, params={"filter": json.dumps(as_json), "filter-lang": "cql2-json"}
    )
    assert ids(answer.json()) == ["S2"]
    draft = await loaded.get(base, params={"filter": "name LIKE 'S%'", "filter-lang": "cql-text"})
    assert draft.json()["numberMatched"] == 0  # the stations have no names
    assert ids((await loaded.get(base, params={"external_id": "S3"})).json()) == ["S3"]
    spatial = await loaded.get(
        base, params={"filter": "S_INTERSECTS(geometry, BBOX(9.50, 47.11, 9.515, 47.13))"}
    )
    assert ids(spatial.json()) == ["S3"]
    # The filter is kept in the page links, so the next page is of the same selection.
    paged = (await loaded.get(base, params={"filter": "feed = 'air'", "limit": 1})).json()
    following = next(link["href"] for link in paged["links"] if link["rel"] == "next")
    assert "filter=feed+%3D+%27air%27" in following and "offset=1" in following
    assert (await loaded.get(following)).json()["numberMatched"] == 3


async def test_sortby_and_properties(loaded):
    cells = "/ogc/collections/cells-r10-no2/items"
    answer = await loaded.get(
        cells, params={"datetime": WINDOW, "sortby": "-mean", "properties": "h3,mean"}
    )
    features = answer.json()["features"]
    means = [item["properties"]["mean"] for item in features]
    assert len(means) == 3 and means == sorted(means, reverse=True)
    assert all(set(item["properties"]) == {"h3", "mean"} for item in features)
    ascending = await loaded.get(cells, params={"datetime": WINDOW, "sortby": "mean"})
    assert [item["properties"]["mean"] for item in ascending.json()["features"]] == means[::-1]
    high = await loaded.get(cells, params={"datetime": WINDOW, "filter": f"mean > {means[1]}"})
    assert [item["properties"]["mean"] for item in high.json()["features"]] == [means[0]]


async def test_cells_of_one_variable_carry_their_window(loaded):
    answer = await loaded.get("/ogc/collections/cells-r10-pm25/items", params={"datetime": WINDOW})
    document = answer.json()
    assert document["numberMatched"] == 3
    first = document["features"][0]
    assert first["id"] == first["properties"]["h3"]
    assert first["properties"]["variable"] == "pm25"
    assert first["properties"]["count"] == 6
    assert (first["properties"]["start"], first["properties"]["end"]) == (
        "2026-11-02T00:00:00Z",
        "2026-11-02T06:00:00Z",
    )
    whole = (await loaded.get("/ogc/collections/cells-r10-pm25/items")).json()["features"][0]
    assert (whole["properties"]["start"], whole["properties"]["end"]) == (
        "2026-11-02T00:00:00Z",
        "2026-11-03T00:00:00Z",
    )
    assert whole["properties"]["count"] == 24
    one = await loaded.get(f"/ogc/collections/cells-r10-pm25/items/{first['id']}")
    assert one.json()["properties"]["count"] == 24
    mixed = await loaded.get(
        "/ogc/collections/cells-r10/items", params={"datetime": WINDOW, "variable": "no2"}
    )
    assert [item["properties"]["variable"] for item in mixed.json()["features"]] == ["no2"] * 3
    by_filter = await loaded.get(
        "/ogc/collections/cells-r10/items",
        params={"datetime": WINDOW, "filter": "variable = 'no2'"},
    )
    assert by_filter.json()["features"] == mixed.json()["features"]


@pytest.mark.parametrize(
    ("path", "params", "parameter", "detail"),
    [
        ("sensors", {"filter": "colour = 'red'"}, "filter", "'colour' is not queryable here"),
        ("sensors", {"filter": "feed ="}, "filter", "not cql2-text"),
        ("sensors", {"filter-lang": "ecql", "filter": "x=1"}, "filter-lang", ""),
        ("sensors", {"sortby": "geometry"}, "sortby", "'geometry' is not sortable"),
        ("sensors", {"properties": "colour"}, "properties", "colour not among"),
        ("sensors", {"id": "seven"}, "id", "'seven' is not a number"),
        ("sensors", {"colour": "red"}, "colour", "unknown query parameter"),
        ("sensors", {"filter-crs": "EPSG:3857", "filter": "id=1"}, "filter-crs", "is not"),
        ("cells-r10-no2", {"variable": "pm25"}, "variable", "only the cells-r{N} collections"),
    ],
)
async def test_bad_filters_are_400s_naming_the_parameter(client, path, params, parameter, detail):
    answer = await client.get(f"/ogc/collections/{path}/items", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter
    assert detail in answer.json()["detail"]


async def test_cells_of_an_unknown_variable_are_404(client):
    answer = await client.get("/ogc/collections/cells-r8-co3/items")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "collection 'cells-r8-co3' not found"
