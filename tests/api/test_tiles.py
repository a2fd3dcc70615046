"""Vector tiles decoded by mapbox-vector-tile (a client we did not write), ETags and TileJSON."""

import asyncio
from datetime import UTC, datetime

import h3
import h3.api.basic_int as h3_int
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest

from citytwin.services.ingest import ingest
from citytwin.tiles.cache import Footprint, VersionCache
from tests.factories import STATIONS, air_rows, post_readings, to_csv

TMS = morecantile.tms.get("WebMercatorQuad")


def tile_of(lon: float, lat: float, z: int) -> str:
    tile = TMS.tile(lon, lat, z)
    return f"{tile.z}/{tile.x}/{tile.y}"


async def test_cell_tile_holds_the_cells_of_the_aggregate(client):
    await post_readings(client, to_csv(air_rows(hours=24)))
    path = tile_of(*STATIONS["S1"], 12)
    answer = await client.get(f"/tiles/cells/{path}.mvt", params={"variable": "no2"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(answer.content)
    assert list(layers) == ["cells"]
    features = layers["cells"]["features"]
    # Zoom 12 shows resolution 9 (hexagons at most 40 px across): the same cells, counts and
    # means as /cells at resolution 9.
    cells = (await client.get("/cells", params={"variable": "no2", "resolution": 9})).json()
    want = {f["properties"]["h3"]: f["properties"] for f in cells["features"]}
    got = {f["properties"]["h3"]: f["properties"] for f in features}
    assert got.keys() == want.keys()
    for cell, properties in got.items():
        assert properties["count"] == want[cell]["count"]
        assert properties["mean"] == pytest.approx(want[cell]["mean"])
    for feature in features:
        assert feature["geometry"]["type"] == "Polygon"
        ring = feature["geometry"]["coordinates"][0]
        assert len(ring) == 7  # a hexagon (closed ring), whole or clipped at the tile buffer
        assert all(-64 <= x <= 4096 + 64 and -64 <= y <= 4096 + 64 for x, y in ring)


async def test_a_tile_without_data_is_empty(client):
    await post_readings(client, to_csv(air_rows(hours=2)))
    answer = await client.get(
        f"/tiles/cells/{tile_of(0.0, 0.0, 10)}.mvt", params={"variable": "no2"}
    )
    assert answer.status_code == 200
    assert mapbox_vector_tile.decode(answer.content) == {}


async def test_etag_changes_when_and_only_when_data_under_the_tile_changes(client):
    await post_readings(client, to_csv(air_rows(hours=24)))
    url = f"/tiles/cells/{tile_of(*STATIONS['S1'], 13)}.mvt"
    params = {"variable": "no2"}
    first = await client.get(url, params=params)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60, must-revalidate"
    again = await client.get(url, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # New data far away (London) and for another variable here: this tile is unchanged.
    await post_readings(
        client,
        b"sensor_id,lon,lat,time,variable,value\n"
        b"L1,-0.12,51.5,2026-11-02T05:00:00Z,no2,30\n"
        b"S1,9.5209,47.141,2026-11-05T05:00:00Z,pm25,3\n",
    )
    assert (await client.get(url, params=params)).headers["etag"] == etag
    # New no2 data in the tile's cells: a new ETag, and the tile shows it.
    await post_readings(
        client,
        b"sensor_id,lon,lat,time,variable,value\nS1,9.5209,47.141,2026-11-05T05:00:00Z,no2,3\n",
    )
    changed = await client.get(url, params=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    counts = [
        f["properties"]["count"]
        for f in mapbox_vector_tile.decode(changed.content)["cells"]["features"]
    ]
    assert (
        sum(counts)
        == sum(
            f["properties"]["count"]
            for f in mapbox_vector_tile.decode(first.content)["cells"]["features"]
        )
        + 1
    )


async def test_sensor_tile_has_latest_values(client):
    rows = air_rows(hours=6)
    await post_readings(client, to_csv(rows))
    answer = await client.get(f"/tiles/sensors/{tile_of(*STATIONS['S1'], 14)}.mvt")
    features = mapbox_vector_tile.decode(answer.content)["sensors"]["features"]
    by_id = {f["properties"]["external_id"]: f["properties"] for f in features}
    assert {"S1", "S2"} <= by_id.keys()
    latest = rows[(rows["sensor_id"] == "S1") & (rows["variable"] == "no2")].iloc[-1]
    assert by_id["S1"]["no2"] == pytest.approx(latest["value"])
    assert by_id["S1"]["no2_time"] == latest["time"]
    assert by_id["S1"]["feed"] == "air"


def hexagon_extent(cells: set[str]) -> list[float]:
    vertices = np.array([point for cell in cells for point in h3.cell_to_boundary(cell)])
    return [vertices[:, 1].min(), vertices[:, 0].min(), vertices[:, 1].max(), vertices[:, 0].max()]


async def test_tilejson_carries_the_parameters(client):
    await post_readings(client, to_csv(air_rows(hours=2)))
    document = (
        await client.get(
            "/tiles/cells/tilejson.json",
            params={"variable": "pm25", "start": "2026-11-02T00:00:00Z"},
        )
    ).json()
    assert document["tilejson"] == "3.0.0"
    assert document["tiles"] == [
        "http://citytwin/tiles/cells/{z}/{x}/{y}.mvt?variable=pm25&start=2026-11-02T00%3A00%3A00Z"
    ]
    # Zoom 0 draws resolution 0: the bounds hold that whole hexagon, not the stations' centres.
    coarsest = {h3.latlng_to_cell(lat, lon, 0) for lon, lat in STATIONS.values()}
    assert document["bounds"] == pytest.approx(hexagon_extent(coarsest), abs=1e-6)
    assert document["description"] == "H3 cell aggregates of pm25 (µg/m³)"
    assert document["attribution"] == "citytwin"
    assert document["vector_layers"][0]["id"] == "cells"
    sensors = (await client.get("/tiles/sensors/tilejson.json")).json()
    assert sensors["tiles"] == ["http://citytwin/tiles/sensors/{z}/{x}/{y}.mvt"]
    lons, lats = zip(*STATIONS.values(), strict=True)
    assert sensors["bounds"] == pytest.approx([min(lons), min(lats), max(lons), max(lats)])


async def test_tilejson_bounds_hold_every_drawn_hexagon_whole(client):
    await post_readings(client, to_csv(air_rows(hours=2)))
    document = (
        await client.get("/tiles/cells/tilejson.json", params={"variable": "no2", "resolution": 8})
    ).json()
    cells = (await client.get("/cells", params={"variable": "no2", "resolution": 8})).json()
    drawn = {f["properties"]["h3"] for f in cells["features"]}
    assert len(drawn) == 3  # H3 parents of the stations' base cells
    west, _, east, _ = document["bounds"]
    assert document["bounds"] == pytest.approx(hexagon_extent(drawn), abs=1e-6)
    # Wider than the centres of the base cells, which is what cut hexagons before.
    lons = [lon for lon, _ in STATIONS.values()]
    assert west < min(lons) - 0.001 and east > max(lons) + 0.001


async def test_sensor_tilejson_names_every_field_its_tiles_carry(client):
    await post_readings(client, air_rows(hours=2))
    document = (await client.get("/tiles/sensors/tilejson.json")).json()
    fields = document["vector_layers"][0]["fields"]
    tile = await client.get(f"/tiles/sensors/{tile_of(*STATIONS['S1'], 15)}.mvt")
    carried = mapbox_vector_tile.decode(tile.content)["sensors"]["features"][0]["properties"]
    assert set(carried) <= set(fields)
    assert fields["no2"] == "Number" and fields["no2_time"] == "String"
    assert {"vehicle_count", "energy_kwh"} <= set(fields)
    assert document["attribution"] == "citytwin"


async def test_without_data_tilejson_has_no_bounds(client):
    document = (await client.get("/tiles/cells/tilejson.json", params={"variable": "no2"})).json()
    assert "bounds" not in document and "center" not in document


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/tiles/cells/23/0/0.mvt", {"variable": "no2"}, "z"),
        ("/tiles/cells/3/8/0.mvt", {"variable": "no2"}, "x"),
        ("/tiles/cells/3/0/-1.mvt", {"variable": "no2"}, "y"),
        ("/tiles/cells/3/0/0.mvt", {"variable": "co2"}, "variable"),
        ("/tiles/cells/3/0/0.mvt", {"variable": "no2", "resolution": 12}, "resolution"),
        ("/tiles/cells/3/0/0.mvt", {"variable": "no2", "start": "soon"}, "start"),
        ("/tiles/sensors/2/4/1.mvt", {}, "x"),
    ],
)
async def test_bad_tile_requests_are_400_naming_the_parameter(client, path, params, parameter):
    answer = await client.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


async def test_sensor_tile_etag_follows_every_sensor_it_draws(client):
    await post_readings(client, air_rows(hours=2))
    tile = TMS.tile(9.58, 47.18, 18)  # away from the stations: no other cell centre inside
    bounds = TMS.bounds(tile)
    lon = bounds.left + 0.00001
    # A point just inside the tile's west edge whose cell's centre lies outside the tile.
    lat = next(
        lat
        for lat in np.linspace(bounds.bottom, bounds.top, 50)[1:-1]
        if h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, 10))[1] < bounds.left
    )
    body = f"sensor_id,lon,lat,time,variable,value\nEDGE,{lon},{lat},2026-11-02T00:00:00Z,no2,5\n"
    await post_readings(client, body.encode())
    url = f"/tiles/sensors/{tile.z}/{tile.x}/{tile.y}.mvt"
    first = await client.get(url)
    drawn = mapbox_vector_tile.decode(first.content)["sensors"]["features"]
    assert "EDGE" in {f["properties"]["external_id"] for f in drawn}
    later = f"sensor_id,lon,lat,time,variable,value\nEDGE,{lon},{lat},2026-11-02T01:00:00Z,no2,9\n"
    await post_readings(client, later.encode())
    second = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    edge = next(
        f
        for f in mapbox_vector_tile.decode(second.content)["sensors"]["features"]
        if f["properties"]["external_id"] == "EDGE"
    )
    assert edge["properties"]["no2"] == 9


async def test_a_load_by_another_process_reaches_warm_tiles(client, conn, feeds, settings):
    """A warm tile's version is held in memory; a load that does not go through this API
    (the CLI, the MQTT listener) announces itself, and the tile changes within moments."""
    await post_readings(client, to_csv(air_rows(hours=24)))
    url = f"/tiles/cells/{tile_of(*STATIONS['S1'], 13)}.mvt"
    etag = (await client.get(url, params={"variable": "no2"})).headers["etag"]
    assert (await client.get(url, params={"variable": "no2"})).headers["etag"] == etag  # warm
    report = await ingest(
        conn,
        feeds["air"],
        b"sensor_id,lon,lat,time,variable,value\nS1,9.5209,47.141,2026-11-06T05:00:00Z,no2,3\n",
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    assert report.loaded == 1
    for _ in range(100):
        if (await client.get(url, params={"variable": "no2"})).headers["etag"] != etag:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the tile kept its ETag for 2 s after new data under it")


async def test_versions_are_not_held_while_announcements_cannot_arrive():
    versions = VersionCache(8)
    asked = []
    here = Footprint(1, (9.50, 47.10, 9.56, 47.16))

    async def fetch() -> tuple[tuple[int, int], Footprint]:
        asked.append(1)
        return (len(asked), 1), here

    assert await versions.get(("k",), fetch) == (1, 1)  # not live: always asked
    assert await versions.get(("k",), fetch) == (2, 1)
    versions.live = lambda: True
    assert await versions.get(("k",), fetch) == (3, 1)
    assert await versions.get(("k",), fetch) == (3, 1)  # held
    versions.invalidate(7)
    assert await versions.get(("k",), fetch) == (4, 1)

    async def racing_fetch() -> tuple[tuple[int, int], Footprint]:
        versions.invalidate()  # a load commits while this version is being read
        return (99, 1), here

    versions.invalidate()
    assert await versions.get(("k",), racing_fetch) == (99, 1)
    assert await versions.get(("k",), fetch) == (5, 1)  # the racing answer was not kept


async def test_a_load_forgets_only_the_versions_whose_place_and_time_it_touched():
    versions = VersionCache(8)
    versions.live = lambda: True
    vaduz = (9.50, 47.10, 9.56, 47.16)
    november = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    footprints = {
        "here": Footprint(1, vaduz),
        "here in november": Footprint(1, vaduz, *november),
        "here, other variable": Footprint(2, vaduz),
        "here in october": Footprint(1, vaduz, datetime(2026, 10, 1, tzinfo=UTC), november[0]),
        "madrid": Footprint(1, (-3.75, 40.38, -3.65, 40.46)),
        "any variable, anywhere": Footprint(None, None),
    }
    for name, footprint in footprints.items():

        async def fetch(footprint=footprint) -> tuple[tuple[int, int], Footprint]:
            return (1, 1), footprint

        await versions.get((name,), fetch)
    vaduz_r5 = h3_int.cell_to_parent(h3_int.latlng_to_cell(47.14, 9.52, 10), 5)
    load = (1, datetime(2026, 11, 7, tzinfo=UTC), vaduz_r5)

    async def changes(after: int | None, limit: int) -> tuple[int, list]:
        return (5, []) if after is None else (6, [load])

    await versions.refresh(changes)  # the first look: what came before is unknown
    assert [name for name in footprints if versions.holds((name,), (1, 1))] == []
    for name, footprint in footprints.items():

        async def fetch(footprint=footprint) -> tuple[tuple[int, int], Footprint]:
            return (5, 1), footprint

        await versions.get((name,), fetch)
    await versions.refresh(changes)
    assert versions.seen == 6
    assert [name for name in footprints if versions.holds((name,), (5, 1))] == [
        "here, other variable",
        "here in october",
        "madrid",
    ]


async def settled(client, conn) -> None:
    """Until the app has heard the loads so far and forgotten what they changed: an
    announcement reaches it a moment after the commit, and until then it trusts no version."""
    versions = client._transport.app.state.tile_versions
    newest = await conn.fetchval("SELECT coalesce(max(version), 0) FROM tile_versions")
    for _ in range(1000):
        if versions.trusted() and versions.seen == newest:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the app did not hear the load")


async def test_warm_tiles_are_replayed_before_routing_until_data_changes(client, conn, monkeypatch):
    await post_readings(client, to_csv(air_rows(hours=24)))
    await settled(client, conn)
    routed, fetched = [], []
    original = VersionCache.get

    async def counting(self, key, fetch):
        async def counted():
            fetched.append(key[0])
            return await fetch()

        routed.append(key[0])
        return await original(self, key, counted)

    monkeypatch.setattr(VersionCache, "get", counting)
    url = f"/tiles/cells/{tile_of(*STATIONS['S1'], 13)}.mvt"
    gzip = {"Accept-Encoding": "gzip"}
    # No start and end: the tile covers the week up to the newest day of no2 (remembered too).
    first = await client.get(url, params={"variable": "no2"}, headers=gzip)
    assert first.status_code == 200 and routed == ["newest day", "cells"]
    again = await client.get(url, params={"variable": "no2"}, headers=gzip)
    assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
    unchanged = await client.get(
        url, params={"variable": "no2"}, headers=gzip | {"If-None-Match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304 and len(routed) == 2  # both replayed, no routing
    await post_readings(
        client,
        b"sensor_id,lon,lat,time,variable,value\nS1,9.5209,47.141,2026-11-07T05:00:00Z,no2,3\n",
    )
    await settled(client, conn)
    changed = await client.get(url, params={"variable": "no2"}, headers=gzip)
    assert changed.headers["etag"] != first.headers["etag"] and fetched.count("cells") == 2
    # A load far away (another tile, another r5 version cell) leaves this tile's version held:
    # only the newest day of no2 is asked again.
    await post_readings(
        client,
        b"sensor_id,lon,lat,time,variable,value\nFAR,10.20,47.60,2026-11-07T06:00:00Z,no2,4\n",
    )
    await settled(client, conn)
    warm = await client.get(url, params={"variable": "no2"}, headers=gzip)
    assert warm.headers["etag"] == changed.headers["etag"]
    assert fetched.count("cells") == 2 and fetched.count("newest day") == 3
