"""OGC API - Tiles: a client that knows only the standard finds and decodes the tiles."""

import h3
import mapbox_vector_tile
import morecantile
import pytest
from shapely.geometry import Polygon, box, shape

from citytwin.tiles.tile_matrix import tms_document
from tests.city import demo_base
from tests.factories import STATIONS, air_rows, post_readings

TMS = morecantile.tms.get("WebMercatorQuad")
LONLAT = morecantile.tms.get("WorldCRS84Quad")


def follow(template: str, lon: float, lat: float, zoom: int, tms=TMS) -> str:
    tile = tms.tile(lon, lat, zoom)
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
    # Clients place the tiles: the hexagons of resolution 8 holding data, and their tiles.
    west, south = tileset["boundingBox"]["lowerLeft"]
    east, north = tileset["boundingBox"]["upperRight"]
    lon, lat = STATIONS["S1"]
    assert west < lon < east and south < lat < north
    assert tileset["boundingBox"]["crs"].endswith("CRS84")
    limits = {limit["tileMatrix"]: limit for limit in tileset["tileMatrixSetLimits"]}
    assert len(limits) == 23
    assert limits["0"] == {
        "tileMatrix": "0",
        "minTileRow": 0,
        "maxTileRow": 0,
        "minTileCol": 0,
        "maxTileCol": 0,
    }
    at_13 = TMS.tile(lon, lat, 13)
    assert limits["13"]["minTileCol"] <= at_13.x <= limits["13"]["maxTileCol"]
    assert limits["13"]["minTileRow"] <= at_13.y <= limits["13"]["maxTileRow"]
    assert limits["13"]["maxTileCol"] - limits["13"]["minTileCol"] <= 2
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


async def test_each_variable_is_a_tileset_and_none_is_a_hidden_default(client):
    await post_readings(client, air_rows(hours=2))
    listing = (await client.get("/ogc/collections/cells-r7/tiles")).json()["tilesets"]
    titles = [tileset["title"] for tileset in listing]
    assert "H3 cell aggregates, resolution 7: no2" in titles and len(titles) >= 6
    assert all(
        tileset["links"][0]["href"].endswith("?variable=" + tileset["title"].split(": ")[1])
        for tileset in listing
    )
    plain = (await client.get("/ogc/collections/cells-r7/tiles/WebMercatorQuad")).json()
    item = next(link for link in plain["links"] if link["rel"] == "item")
    assert item["href"].endswith("{tileCol}?variable={variable}")
    assert {"no2", "pm25", "energy_kwh"} <= set(item["variables"]["variable"]["enum"])
    tile = TMS.tile(*STATIONS["S1"], 12)
    path = f"/ogc/collections/cells-r7/tiles/WebMercatorQuad/12/{tile.y}/{tile.x}"
    missing = await client.get(path)
    assert missing.status_code == 400 and "variable" in missing.text
    named = await client.get(path, params={"variable": "no2"})
    cells = mapbox_vector_tile.decode(named.content)["cells"]["features"]
    assert {f["properties"]["h3"] for f in cells} == {
        h3.latlng_to_cell(lat, lon, 7) for lon, lat in STATIONS.values()
    }


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
    assert [entry["id"] for entry in listed] == ["WebMercatorQuad", "WorldCRS84Quad"]


def of_matrix_set(tilesets: list[dict], name: str) -> dict:
    """The one tileset of `tilesets` in tile matrix set `name`."""
    (tileset,) = [t for t in tilesets if t["tileMatrixSetURI"].endswith("/" + name)]
    return tileset


async def test_cells_are_tiled_in_lon_lat_too(client):
    """WorldCRS84Quad beside WebMercatorQuad: GDAL's OGCAPI driver takes the collection's
    lon/lat extent as coordinates of the tile matrix set, right only for a lon/lat set."""
    await post_readings(client, air_rows(hours=2))
    listing = (await client.get("/ogc/collections/cells-r8-no2/tiles")).json()["tilesets"]
    assert [t["tileMatrixSetURI"].rsplit("/", 1)[1] for t in listing] == [
        "WebMercatorQuad",
        "WorldCRS84Quad",
    ]
    tileset = of_matrix_set(listing, "WorldCRS84Quad")
    assert tileset["crs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    lon, lat = STATIONS["S1"]
    limits = {limit["tileMatrix"]: limit for limit in tileset["tileMatrixSetLimits"]}
    assert limits["0"] == {
        "tileMatrix": "0",
        "minTileRow": 0,
        "maxTileRow": 0,
        "minTileCol": 1,
        "maxTileCol": 1,
    }
    at_13 = LONLAT.tile(lon, lat, 13)
    assert limits["13"]["minTileCol"] <= at_13.x <= limits["13"]["maxTileCol"]
    item = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    assert "/tiles/WorldCRS84Quad/{tileMatrix}/{tileRow}/{tileCol}" in item
    answer = await client.get(follow(item, lon, lat, 13, LONLAT))
    features = mapbox_vector_tile.decode(answer.content)["cells"]["features"]
    cell = h3.latlng_to_cell(lat, lon, 8)
    [drawn] = [f for f in features if f["properties"]["h3"] == cell]
    # Tile pixels back to lon/lat: the hexagon lies where H3 puts it (clipped to the tile and
    # its 64-pixel buffer).
    west, south, east, north = LONLAT.bounds(at_13)
    margin = (east - west) * 64 / 4096
    rings = shape(drawn["geometry"]).exterior.coords
    placed = Polygon(
        [(west + x / 4096 * (east - west), south + y / 4096 * (north - south)) for x, y in rings]
    )
    hexagon = Polygon([(x, y) for y, x in h3.cell_to_boundary(cell)]).intersection(
        box(west - margin, south - margin, east + margin, north + margin)
    )
    assert placed.symmetric_difference(hexagon).area < 0.01 * hexagon.area
    document = (await client.get("/ogc/tileMatrixSets/WorldCRS84Quad")).json()
    assert document["supportedCRS"] == document["crs"] == tileset["crs"]
    assert document["tileMatrix"][0]["topLeftCorner"] == [-180, 90]
    assert (
        document["tileMatrix"][0]["matrixWidth"],
        document["tileMatrix"][0]["matrixHeight"],
    ) == (2, 1)


async def test_districts_are_a_tileset_and_a_tilejson(client):
    base = demo_base()
    collection = (await client.get("/ogc/collections/districts")).json()
    listing_href = next(
        link["href"] for link in collection["links"] if link["rel"].endswith("tilesets-vector")
    )
    tileset = of_matrix_set((await client.get(listing_href)).json()["tilesets"], "WebMercatorQuad")
    assert tileset["title"] == collection["title"]
    assert tileset["layers"] == [
        {
            "id": "districts",
            "dataType": "vector",
            "geometryDimension": 2,
            "propertiesSchema": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
        }
    ]
    # Bounded by the whole polygons, so no district is cut at a tile edge.
    west, south, east, north = base.districts.total_bounds
    box = tileset["boundingBox"]
    assert box["lowerLeft"] + box["upperRight"] == pytest.approx([west, south, east, north])
    limits = {limit["tileMatrix"]: limit for limit in tileset["tileMatrixSetLimits"]}
    vaduz = base.districts.set_index("id").loc["vaduz", "geometry"].representative_point()
    at_14 = TMS.tile(vaduz.x, vaduz.y, 14)
    assert limits["14"]["minTileCol"] <= at_14.x <= limits["14"]["maxTileCol"]
    item = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    assert "{variable}" not in item
    answer = await client.get(follow(item, vaduz.x, vaduz.y, 14))
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = mapbox_vector_tile.decode(answer.content)["districts"]["features"]
    assert {"id": "vaduz", "name": "Vaduz"} in [f["properties"] for f in features]
    # The same tiles for TileJSON clients (MapLibre, Leaflet, QGIS's XYZ), credited.
    tilejson = (await client.get("/tiles/districts/tilejson.json")).json()
    assert tilejson["tiles"] == ["http://citytwin/tiles/districts/{z}/{x}/{y}.mvt"]
    assert tilejson["bounds"] == pytest.approx([west, south, east, north])
    assert tilejson["vector_layers"][0]["id"] == "districts"
    assert tilejson["vector_layers"][0]["fields"] == {"id": "String", "name": "String"}
    assert tilejson["attribution"] == "© OpenStreetMap contributors, ODbL 1.0"


async def test_a_cell_collection_of_one_variable_is_one_tileset_of_that_variable(client):
    await post_readings(client, air_rows(hours=12))
    collection = (await client.get("/ogc/collections/cells-r8-no2")).json()
    listing_href = next(
        link["href"] for link in collection["links"] if link["rel"].endswith("tilesets-vector")
    )
    tileset = of_matrix_set((await client.get(listing_href)).json()["tilesets"], "WebMercatorQuad")
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    # The collection's id names the variable: no parameter, no hidden default.
    assert item["href"].endswith(
        "/cells-r8-no2/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert "variables" not in item and tileset["title"] == collection["title"]
    named = mapbox_vector_tile.decode(
        (await client.get(follow(item["href"], *STATIONS["S1"], 13))).content
    )
    general = await client.get(
        follow(
            "/ogc/collections/cells-r8/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
            *STATIONS["S1"],
            13,
        ),
        params={"variable": "no2"},
    )
    assert named == mapbox_vector_tile.decode(general.content) and named["cells"]["features"]
    other = await client.get(listing_href, params={"variable": "pm25"})
    assert (other.status_code, other.json()["parameter"]) == (400, "variable")


async def test_the_tile_matrix_set_is_written_in_both_encodings():
    """2.0 for current clients, 1.0 beside it for GDAL before 3.7 (Debian 12 has 3.6)."""
    document = tms_document()
    assert document["id"] == document["identifier"] == "WebMercatorQuad"
    assert document["type"] == "TileMatrixSetType"
    assert (
        document["supportedCRS"] == document["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    )
    assert len(document["tileMatrix"]) == len(document["tileMatrices"]) == 25
    for old, new in zip(document["tileMatrix"], document["tileMatrices"], strict=True):
        assert old["identifier"] == new["id"]
        assert (
            old["topLeftCorner"]
            == new["pointOfOrigin"]
            == [-20037508.342789244, 20037508.342789244]
        )
        assert (old["matrixWidth"], old["scaleDenominator"]) == (
            new["matrixWidth"],
            new["scaleDenominator"],
        )
    assert document["boundingBox"]["upperCorner"] == [20037508.342789244, 20037508.342789244]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ogc/collections/districts/tiles/WebMercatorQuad/2/0/9", 400),
        ("/ogc/collections/roads/tiles", 404),
        ("/ogc/collections/buildings/tiles/WebMercatorQuad/14/8600/5770", 404),
        ("/ogc/collections/nothing/tiles", 404),
        ("/ogc/collections/sensors/tiles/WorldMercatorWGS84Quad", 404),
        ("/ogc/tileMatrixSets/WorldMercatorWGS84Quad", 404),
        ("/ogc/collections/sensors/tiles/WorldCRS84Quad/0/1/0", 400),  # one row at zoom 0
        ("/ogc/collections/sensors/tiles/WorldCRS84Quad/0/0/2", 400),
        ("/ogc/collections/cells-r8/tiles/WebMercatorQuad?variable=co2", 400),
        ("/ogc/collections/sensors/tiles/WebMercatorQuad/3/9/0", 400),
    ],
)
async def test_bad_tile_requests(client, path, status):
    answer = await client.get(path)
    assert answer.status_code == status, answer.text
