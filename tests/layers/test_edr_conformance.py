"""A conformance sweep of `/edr`: every class `/edr/conformance` declares has its requirements
that HTTP can show checked here (links, media types, queries, parameters, errors), and a class
without checks fails the sweep, so what is declared is what is met."""

from collections.abc import Awaitable, Callable

import pytest
from openapi_spec_validator import validate

from citytwin.api.routers.edr import CONFORMANCE
from tests.layers.sample import INNER, serve

Check = Callable[..., Awaitable[None]]
CHECKS: dict[str, Check] = {}
EDR = "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/{}"
COMMON = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core"
COVJSON = "application/prs.coverage+json"


def checks(*classes: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        for name in classes:
            CHECKS[name] = check
        return check

    return register


def rels(document: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in document["links"]}


async def a_point(client, layer_id: str) -> str:
    """WKT of a point inside the layer's extent (its bbox centre)."""
    west, south, east, north = (await client.get(f"/edr/collections/{layer_id}")).json()["extent"][
        "spatial"
    ]["bbox"][0]
    return f"POINT({(west + east) / 2} {(south + north) / 2})"


@checks(COMMON)
async def common_core(client, layer_id):
    answer = await client.get("/edr")
    assert answer.headers["content-type"] == "application/json"
    landing = rels(answer.json())
    assert {"self", "service-desc", "conformance", "data"} <= set(landing)
    declared = (await client.get(landing["conformance"]["href"])).json()["conformsTo"]
    assert declared == CONFORMANCE
    unknown = await client.get("/edr/collections", params={"colour": "red"})
    assert (unknown.status_code, unknown.json()["parameter"]) == (400, "colour")


@checks(EDR.format("core"))
async def core(client, layer_id):
    url = f"/edr/collections/{layer_id}/position"
    point = await a_point(client, layer_id)
    answer = await client.get(url, params={"coords": point})
    assert answer.status_code == 200, answer.text
    assert answer.json()["domain"]["domainType"] == "PointSeries"
    for params, parameter in (
        ({}, "coords"),
        ({"coords": "POINT(nonsense)"}, "coords"),
        ({"coords": "POINT(0 0)"}, "coords"),  # outside the layer
    ):
        bad = await client.get(url, params=params)
        assert (bad.status_code, bad.json()["parameter"]) == (400, parameter), bad.text
    unknown = await client.get(f"/edr/collections/{'0' * 32}/position", params={"coords": point})
    assert unknown.status_code == 404


@checks(EDR.format("collections"))
async def collections(client, layer_id):
    listing = (await client.get("/edr/collections")).json()
    [entry] = listing["collections"]
    assert entry["id"] == layer_id and len(entry["extent"]["spatial"]["bbox"][0]) == 4
    assert entry == (await client.get(f"/edr/collections/{layer_id}")).json()
    for name, query in entry["data_queries"].items():
        assert query["link"]["href"].endswith(f"/edr/collections/{layer_id}/{name}")
        assert (
            query["link"]["variables"]["default_output_format"]
            in (query["link"]["variables"]["output_formats"])
        )
    assert set(entry["parameter_names"]) == {"no2", "nearest_sensor_distance"}
    assert entry["parameter_names"]["no2"]["unit"]["symbol"]


@checks(EDR.format("json"))
async def json_encoding(client, layer_id):
    answer = await client.get(
        f"/edr/collections/{layer_id}/area", params={"coords": INNER.wkt, "f": "JSON"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["steps"]


@checks(EDR.format("covjson"))
async def covjson(client, layer_id):
    url = f"/edr/collections/{layer_id}/position"
    point = await a_point(client, layer_id)
    for f in (None, "CoverageJSON", "covjson"):
        answer = await client.get(url, params={"coords": point} | ({"f": f} if f else {}))
        assert answer.headers["content-type"] == COVJSON, f
        assert answer.json()["type"] == "Coverage"
    wrong = await client.get(url, params={"coords": point, "f": "GeoTIFF"})
    assert (wrong.status_code, wrong.json()["parameter"]) == (400, "f")


@checks(EDR.format("oas30"))
async def oas30(client, layer_id):
    desc = rels((await client.get("/edr")).json())["service-desc"]
    answer = await client.get(desc["href"])
    assert answer.headers["content-type"] == desc["type"]
    validate(answer.json())
    assert answer.json()["openapi"].startswith("3.0")
    assert {f"/edr/collections/{{layer_id}}/{query}" for query in ("position", "area", "cube")} <= (
        set(answer.json()["paths"])
    )


def test_every_declared_class_has_its_checks():
    assert sorted(CHECKS) == sorted(CONFORMANCE)


@pytest.fixture(scope="module")
async def edr_client(settings, pool, stored):
    async with serve(settings, stored[0]) as client:
        yield client


@pytest.mark.parametrize("conformance_class", CONFORMANCE)
async def test_declared_class_is_met(edr_client, stored, conformance_class):
    assert conformance_class in (await edr_client.get("/edr/conformance")).json()["conformsTo"]
    await CHECKS[conformance_class](edr_client, stored[1])
