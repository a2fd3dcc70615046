"""A conformance sweep of `/ogc`: every class `/ogc/conformance` declares has its requirements
that HTTP can show checked here (links, media types, paging, parameters, errors), and a class
without checks fails the sweep, so what is declared is what is met."""

from collections.abc import Awaitable, Callable

import mapbox_vector_tile
import pytest
from openapi_spec_validator import validate

from citytwin.query.ogc import CONFORMANCE
from citytwin.tiles.tile_matrix import TMS
from tests.conftest import COUNTRY, city_imported
from tests.factories import STATIONS, air_rows, post_readings

Check = Callable[..., Awaitable[None]]
CHECKS: dict[str, Check] = {}
FEATURES = "http://www.opengis.net/spec/ogcapi-features-{}/1.0/conf/{}"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/{}"
TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{}"
ITEMS = "/ogc/collections/sensors/items"


def checks(*classes: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        for name in classes:
            CHECKS[name] = check
        return check

    return register


def rels(document: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in document["links"]}


async def external_ids(client, **params: str) -> list[str]:
    answer = await client.get(ITEMS, params=params)
    assert answer.status_code == 200, answer.text
    return [item["properties"]["external_id"] for item in answer.json()["features"]]


@checks(FEATURES.format(1, "core"))
async def core(client):
    landing = rels((await client.get("/ogc")).json())
    assert {"self", "service-desc", "conformance", "data"} <= set(landing)
    collections = (await client.get(landing["data"]["href"])).json()
    assert all({"id", "links", "extent"} <= set(item) for item in collections["collections"][:1])
    page = (await client.get(ITEMS, params={"limit": 2})).json()
    assert (page["numberMatched"], page["numberReturned"]) == (3, 2)
    following = (await client.get(rels(page)["next"]["href"])).json()
    assert following["numberReturned"] == 1 and "next" not in rels(following)
    assert await external_ids(client, bbox="9.50,47.11,9.515,47.13") == ["S3"]
    assert (await client.get(f"{ITEMS}/424242")).status_code == 404
    assert (await client.get("/ogc/collections/none/items")).status_code == 404
    bad = await client.get(ITEMS, params={"bbox": "1,2,3"})
    assert (bad.status_code, bad.json()["parameter"]) == (400, "bbox")
    capped = await client.get(ITEMS, params={"limit": 10**6})
    assert capped.status_code == 200 and "limit capped" in rels(capped.json())["self"]["title"]


@checks(FEATURES.format(1, "geojson"))
async def geojson(client):
    page = await client.get(ITEMS)
    assert page.headers["content-type"] == "application/geo+json"
    assert page.json()["type"] == "FeatureCollection"
    one = await client.get(f"{ITEMS}/1")
    assert (one.headers["content-type"], one.json()["type"]) == ("application/geo+json", "Feature")


@checks(FEATURES.format(1, "oas30"))
async def oas30(client):
    landing = rels((await client.get("/ogc")).json())
    answer = await client.get(landing["service-desc"]["href"])
    assert answer.headers["content-type"] == landing["service-desc"]["type"]
    validate(answer.json())
    assert answer.json()["openapi"].startswith("3.0")


@checks(FEATURES.format(2, "crs"))
async def crs(client):
    collection = (await client.get("/ogc/collections/sensors")).json()
    mercator = "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert mercator in collection["crs"] and collection["storageCrs"] in collection["crs"]
    answer = await client.get(ITEMS, params={"crs": mercator, "limit": 1})
    assert answer.headers["content-crs"] == f"<{mercator}>"
    assert abs(answer.json()["features"][0]["geometry"]["coordinates"][0]) > 180
    refused = await client.get(ITEMS, params={"crs": "EPSG:27700"})
    assert (refused.status_code, refused.json()["parameter"]) == (400, "crs")


@checks(FEATURES.format(3, "queryables"))
async def queryables(client):
    links = (await client.get("/ogc/collections/sensors")).json()["links"]
    link = next(item for item in links if item["rel"].endswith("/queryables"))
    answer = await client.get(link["href"])
    assert answer.headers["content-type"] == "application/schema+json"
    assert answer.json()["type"] == "object" and "feed" in answer.json()["properties"]


@checks(FEATURES.format(3, "queryables-query-parameters"))
async def queryable_parameters(client):
    assert await external_ids(client, external_id="S2") == ["S2"]


@checks(
    FEATURES.format(3, "filter"), FEATURES.format(3, "features-filter"), CQL2.format("cql2-text")
)
async def cql2_text(client):
    assert await external_ids(client, filter="external_id = 'S1'") == ["S1"]
    bad = await client.get(ITEMS, params={"filter": "colour = 1"})
    assert (bad.status_code, bad.json()["parameter"]) == (400, "filter")


@checks(CQL2.format("cql2-json"))
async def cql2_json(client):
    text = '{"op": "<>", "args": [{"property": "external_id"}, "S1"]}'
    assert await external_ids(client, filter=text, **{"filter-lang": "cql2-json"}) == ["S2", "S3"]


@checks(CQL2.format("basic-cql2"))
async def basic(client):
    assert await external_ids(client, filter="NOT (id > 1) OR name IS NULL AND id >= 3") == [
        "S1",
        "S3",
    ]


@checks(CQL2.format("advanced-comparison-operators"))
async def advanced(client):
    assert await external_ids(client, filter="external_id LIKE 'S_' AND id BETWEEN 2 AND 3") == [
        "S2",
        "S3",
    ]
    assert await external_ids(client, filter="external_id NOT IN ('S2')") == ["S1", "S3"]


@checks(CQL2.format("case-insensitive-comparison"))
async def case_insensitive(client):
    assert await external_ids(client, filter="CASEI(external_id) = casei('s3')") == ["S3"]


@checks(CQL2.format("basic-spatial-functions"), CQL2.format("spatial-functions"))
async def spatial(client):
    inside = "S_INTERSECTS(geometry, BBOX(9.50, 47.11, 9.515, 47.13))"
    assert await external_ids(client, filter=inside) == ["S3"]
    lon, lat = STATIONS["S2"]
    assert await external_ids(client, filter=f"S_EQUALS(geometry, POINT({lon} {lat}))") == ["S2"]
    polygon = "POLYGON((9.5 47.11, 9.515 47.11, 9.515 47.13, 9.5 47.13, 9.5 47.11))"
    assert await external_ids(client, filter=f"S_DISJOINT(geometry, {polygon})") == ["S1", "S2"]


@checks(CQL2.format("arithmetic"))
async def arithmetic(client):
    assert await external_ids(client, filter="id * 2 = 4") == ["S2"]


@checks(
    TILES.format("core"),
    TILES.format("tileset"),
    TILES.format("tilesets-list"),
    TILES.format("geodata-tilesets"),
    TILES.format("mvt"),
)
async def tiles(client):
    links = (await client.get("/ogc/collections/sensors")).json()["links"]
    listing = next(item for item in links if item["rel"].endswith("tilesets-vector"))
    tileset_link, _ = (await client.get(listing["href"])).json()["tilesets"]  # WebMercatorQuad
    tileset = (await client.get(tileset_link["links"][0]["href"])).json()
    assert tileset["dataType"] == "vector" and "tileMatrixSetLimits" in tileset
    template = next(item["href"] for item in tileset["links"] if item["rel"] == "item")
    tile = TMS.tile(*STATIONS["S3"], 15)
    path = template.format(tileMatrix=15, tileRow=tile.y, tileCol=tile.x)
    answer = await client.get(path)
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(answer.content)["sensors"]
    assert [item["properties"]["external_id"] for item in layer["features"]] == ["S3"]


def test_every_declared_class_has_its_checks():
    assert sorted(CHECKS) == sorted(CONFORMANCE)


@pytest.mark.parametrize("conformance_class", CONFORMANCE)
async def test_declared_class_is_met(client, conn, conformance_class):
    declared = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert conformance_class in declared
    async with city_imported(conn, COUNTRY):
        await post_readings(client, air_rows(hours=2))
        await CHECKS[conformance_class](client)
