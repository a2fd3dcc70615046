"""OGC API - Tiles: a client that knows only the standard finds and decodes the tiles."""

import h3
import mapbox_vector_tile
import morecantile
import pytest

from tests.factories import STATIONS, air_rows, post_readings

TMS = morecantile.tms.get("WebMercatorQuad")


def follow(template: str, lon: float, lat: float, zoom: int) -> str:
    tile = TMS.tile(lon, lat, zoom)
    return (
        template.replace("{tileMatrix}", str(tile.z))
        .replace("{tileRow}", str(tile.y))
        .replace("{tileCol}", str(tile.x))
    )


async def test_collections_lead_to_tilesets_and_tiles(client):
    await post_readings(client, air_rows(hours=12))
    collection = (await client.get("/ogc/collections/cells-r8")).json()
    tilesets_href = next(
        link["href"] for link in collection["links"] if link["rel"].endswith("tilesets-vector")
    )
    listing = (await client.get(tilesets_href, params={"variable": "pm25"})).json()
    tileset_href = listing["tilesets"][0]["links"][0]["href"]
    tileset = (await client.get(tileset_href, params={"variable": "pm25"})).json()
    assert tileset["dataType"] == "vector"
    assert tileset["tileMatrixSetURI"] == (
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    )
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["type"] == "application/vnd.mapbox-vector-tile" and item["templated"]
    assert item["href"].endswith("/{tileMatrix}/{tileRow}/{tileCol}?variable=pm25")
    answer = await client.get(follow(item["href"], *STATIONS["S1"], 13))
    features = mapbox_vector_tile.decode(answer.content)["cells"]["features"]
    cells = (await client.get("/cells", params={"variable": "pm25", "resolution": 8})).json()
    counts = {f["properties"]["h3"]: f["properties"]["count"] for f in cells["features"]}
    in_tile = {f["properties"]["h3"]: f["properties"]["count"] for f in features}
    assert h3.latlng_to_cell(STATIONS["S1"][1], STATIONS["S1"][0], 8) in in_tile
    assert all(counts[cell] == count for cell, count in in_tile.items())
    again = await client.get(
        follow(item["href"], *STATIONS["S1"], 13), headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304


async def test_sensor_tiles_and_the_tile_matrix_set(client):
    await post_readings(client, air_rows(hours=2))
    tileset = (await client.get("/ogc/collections/sensors/tiles/WebMercatorQuad")).json()
    scheme = next(
        link["href"] for link in tileset["links"] if link["rel"].endswith("tiling-scheme")
    )
    matrix_set = (await client.get(scheme)).json()
    assert matrix_set["id"] == "WebMercatorQuad" and len(matrix_set["tileMatrices"]) == 25
    item = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    layer = mapbox_vector_tile.decode((await client.get(follow(item, *STATIONS["S3"], 15))).content)
    assert [f["properties"]["external_id"] for f in layer["sensors"]["features"]] == ["S3"]
    listed = (await client.get("/ogc/tileMatrixSets")).json()["tileMatrixSets"]
    assert [entry["id"] for entry in listed] == ["WebMercatorQuad"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ogc/collections/districts/tiles", 404),
        ("/ogc/collections/nothing/tiles", 404),
        ("/ogc/collections/sensors/tiles/WorldCRS84Quad", 404),
        ("/ogc/tileMatrixSets/WorldCRS84Quad", 404),
        ("/ogc/collections/cells-r8/tiles/WebMercatorQuad?variable=co2", 400),
        ("/ogc/collections/sensors/tiles/WebMercatorQuad/3/9/0", 400),
    ],
)
async def test_bad_tile_requests(client, path, status):
    answer = await client.get(path)
    assert answer.status_code == status, answer.text
