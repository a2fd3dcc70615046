"""The city's base layers served: OGC API Features collections and vector tiles of roads,
buildings and districts (the demo city, imported once for the session)."""

import mapbox_vector_tile
import pytest

from tests.city import demo_base


async def test_roads_and_buildings_are_ogc_collections(client):
    base = demo_base()
    listed = (await client.get("/ogc/collections")).json()["collections"]
    ids = [item["id"] for item in listed]
    assert ids[:4] == ["sensors", "districts", "roads", "buildings"]
    roads = (await client.get("/ogc/collections/roads/items?limit=1000")).json()
    assert roads["numberMatched"] == len(base.roads) == 605
    first = roads["features"][0]
    assert first["id"] == "104864359" and first["geometry"]["type"] == "MultiLineString"
    assert first["properties"] == {
        "id": "104864359",
        "road_class": "track",
        "name": None,
        "maxspeed": None,
        "lanes": None,
        "oneway": None,
    }
    drescheweg = (await client.get("/ogc/collections/roads/items/123655292")).json()
    assert drescheweg["properties"]["name"] == "Drescheweg"
    assert drescheweg["properties"]["maxspeed"] == 20.0
    buildings = await client.get("/ogc/collections/buildings/items?bbox=9.52,47.14,9.53,47.15")
    document = buildings.json()
    inside = base.buildings.cx[9.52:9.53, 47.14:47.15]
    assert document["numberMatched"] == len(inside)
    one = await client.get(f"/ogc/collections/buildings/items/{base.buildings['id'].iloc[0]}")
    assert one.json()["properties"]["use"] == base.buildings["use"].iloc[0]
    missing = await client.get("/ogc/collections/roads/items/nothing")
    assert missing.status_code == 404
    roads_entry = next(item for item in listed if item["id"] == "roads")
    extent = roads_entry["extent"]["spatial"]["bbox"]
    # Features only: the base layers are drawn from /tiles/{layer}, not as OGC tilesets.
    assert "tiles" not in {link["href"].rsplit("/", 1)[-1] for link in roads_entry["links"]}
    assert extent[0] == pytest.approx(list(base.roads.total_bounds), abs=1e-6)


async def test_vector_tiles_of_the_base_layers(client):
    # z14 tile holding the centre of Vaduz.
    answer = await client.get("/tiles/roads/14/8625/5753.mvt")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    roads = mapbox_vector_tile.decode(answer.content)["roads"]["features"]
    assert len(roads) > 10
    assert (
        set(roads[0]["properties"]) == {"id", "road_class", "name"}
        or "id" in roads[0]["properties"]
    )
    buildings = mapbox_vector_tile.decode(
        (await client.get("/tiles/buildings/14/8625/5753.mvt")).content
    )
    assert len(buildings["buildings"]["features"]) > 10
    far = await client.get("/tiles/roads/14/0/0.mvt")
    assert far.status_code == 200 and mapbox_vector_tile.decode(far.content) == {}
    wrong = await client.get("/tiles/rivers/14/8625/5753.mvt")
    assert wrong.status_code in (400, 404)
