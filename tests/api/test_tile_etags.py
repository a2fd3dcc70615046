"""Cell-tile ETags at their edges: a load into a base cell next to a tile, into a neighbouring
cell inside it, and outside the tile's time range; and tiles served with no tile cache."""

import h3
import mapbox_vector_tile
import morecantile
import pytest

from citytwin.api import tile_responses
from citytwin.api.app import create_app
from citytwin.db.queries.tiles import cells_tile
from tests.asgi import asgi_client
from tests.factories import STATIONS, air_rows, post_readings, to_csv

TMS = morecantile.tms.get("WebMercatorQuad")
LON, LAT = STATIONS["S1"]
TILE = TMS.tile(LON, LAT, 16)  # ~420 m across: resolution-10 hexagons (~66 m edges)
URL = f"/tiles/cells/{TILE.z}/{TILE.x}/{TILE.y}.mvt"


def one_reading(lon: float, lat: float, time: str, sensor: str = "N1") -> bytes:
    return f"sensor_id,lon,lat,time,variable,value\n{sensor},{lon},{lat},{time},no2,40\n".encode()


def hexagons(answer) -> dict[str, int]:
    layers = mapbox_vector_tile.decode(answer.content)
    return {f["properties"]["h3"]: f["properties"]["count"] for f in layers["cells"]["features"]}


def cell_outside_the_tile() -> tuple[float, float]:
    """A base cell ~1.3 km away (well beyond the tile and its buffer), in the same
    resolution-5 cell (the grain of tile versions) as S1's."""
    own = h3.latlng_to_cell(LAT, LON, 10)
    west, south, east, north = TMS.bounds(TILE)
    for cell in h3.grid_ring(own, 20):
        lat, lon = h3.cell_to_latlng(cell)
        far = not (west - 0.01 < lon < east + 0.01 and south - 0.01 < lat < north + 0.01)
        if far and h3.cell_to_parent(cell, 5) == h3.cell_to_parent(own, 5):
            return lon, lat
    raise AssertionError("no such cell")


async def test_a_load_next_to_the_tile_renews_its_etag_but_not_its_content(client):
    await post_readings(client, to_csv(air_rows(hours=24)))
    first = await client.get(URL, params={"variable": "no2"})
    lon, lat = cell_outside_the_tile()
    await post_readings(client, one_reading(lon, lat, "2026-11-02T05:00:00Z"))
    after = await client.get(URL, params={"variable": "no2"})
    # Versions are kept per resolution-5 cell (~250 km²) and day: a load nearby makes clients
    # revalidate (a new ETag) but the tile they get is the same.
    assert after.headers["etag"] != first.headers["etag"]
    assert hexagons(after) == hexagons(first)


async def test_a_load_into_a_new_neighbouring_cell_inside_the_tile_shows_in_it(client):
    await post_readings(client, to_csv(air_rows(hours=24)))
    first = await client.get(URL, params={"variable": "no2"})
    own = h3.latlng_to_cell(LAT, LON, 10)
    west, south, east, north = TMS.bounds(TILE)
    inside = [
        cell
        for cell in h3.grid_ring(own, 1)
        if west < h3.cell_to_latlng(cell)[1] < east and south < h3.cell_to_latlng(cell)[0] < north
    ]
    neighbour = inside[0]
    assert neighbour not in hexagons(first)
    lat, lon = h3.cell_to_latlng(neighbour)
    await post_readings(client, one_reading(lon, lat, "2026-11-02T05:00:00Z"))
    after = await client.get(
        URL, params={"variable": "no2"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
    assert hexagons(after) == {**hexagons(first), neighbour: 1}


async def test_a_load_outside_the_tiles_time_range_keeps_its_etag(client):
    await post_readings(client, to_csv(air_rows(hours=24)))  # 2 November
    window = {"variable": "no2", "start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
    first = await client.get(URL, params=window)
    await post_readings(client, one_reading(LON, LAT, "2026-11-05T05:00:00Z", sensor="S1"))
    later = await client.get(URL, params=window, headers={"If-None-Match": first.headers["etag"]})
    assert later.status_code == 304  # 5 November is outside 2 November
    whole = await client.get(URL, params={"variable": "no2"})
    assert sum(hexagons(whole).values()) == sum(hexagons(first).values()) + 1
    await post_readings(client, one_reading(LON, LAT, "2026-11-02T23:30:00Z", sensor="S1"))
    inside = await client.get(URL, params=window, headers={"If-None-Match": first.headers["etag"]})
    assert inside.status_code == 200
    assert sum(hexagons(inside).values()) == sum(hexagons(first).values()) + 1


@pytest.fixture
async def uncached(settings, conn):
    """The API with CITYTWIN_TILE_CACHE_SIZE=0: no tile bodies and no versions held."""
    app = create_app(settings.updated(tile_cache_size=0))
    async with asgi_client(app) as client:
        yield client


async def test_with_no_tile_cache_every_tile_is_built_and_still_right(uncached, monkeypatch):
    client = uncached
    built = []

    async def counting(*args, **kwargs):
        built.append(1)
        return await cells_tile(*args, **kwargs)

    monkeypatch.setattr(tile_responses, "cells_tile", counting)
    await post_readings(client, to_csv(air_rows(hours=24)))
    first = await client.get(URL, params={"variable": "no2"})
    again = await client.get(URL, params={"variable": "no2"})
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
    assert len(built) == 2  # nothing kept: built again
    not_modified = await client.get(
        URL, params={"variable": "no2"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    await post_readings(client, one_reading(LON, LAT, "2026-11-02T05:30:00Z", sensor="S1"))
    changed = await client.get(URL, params={"variable": "no2"})
    assert changed.headers["etag"] != first.headers["etag"]
    assert sum(hexagons(changed).values()) == sum(hexagons(first).values()) + 1


async def test_a_mobile_sensor_on_the_sensor_tile_follows_its_latest_reading_anywhere(client):
    """A bus registered here reports from 20 km away: the sensor tile here (which draws it at
    its registered point) shows that latest value, under a new ETag."""
    tile = TMS.tile(LON, LAT, 14)
    url = f"/tiles/sensors/{tile.z}/{tile.x}/{tile.y}.mvt"
    await post_readings(client, one_reading(LON, LAT, "2026-11-02T08:00:00Z", sensor="BUS"))
    first = await client.get(url)
    (bus,) = [
        f["properties"]
        for f in mapbox_vector_tile.decode(first.content)["sensors"]["features"]
        if f["properties"]["external_id"] == "BUS"
    ]
    assert (bus["no2"], bus["no2_time"]) == (40, "2026-11-02T08:00:00Z")
    far = "sensor_id,lon,lat,time,variable,value\nBUS,9.80,47.30,2026-11-02T08:10:00Z,no2,55\n"
    assert h3.cell_to_parent(h3.latlng_to_cell(47.30, 9.80, 10), 5) != h3.cell_to_parent(
        h3.latlng_to_cell(LAT, LON, 10), 5
    )
    await post_readings(client, far.encode())
    after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
    (moved,) = [
        f["properties"]
        for f in mapbox_vector_tile.decode(after.content)["sensors"]["features"]
        if f["properties"]["external_id"] == "BUS"
    ]
    assert (moved["no2"], moved["no2_time"]) == (55, "2026-11-02T08:10:00Z")
