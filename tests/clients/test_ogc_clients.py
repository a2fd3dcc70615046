"""Real OGC API - Features clients, none written by us, against a live server: OWSLib and GDAL."""

import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import asyncpg
import geopandas as gpd
import h3
import pytest
import requests
from owslib.ogcapi.features import Features
from shapely.geometry import Polygon, box
from starlette.types import ASGIApp, Receive, Scope, Send

from citytwin.api.app import create_app
from citytwin.feeds import FeedRegistry
from citytwin.query.cells import to_hex
from citytwin.services.ingest import ingest
from citytwin.settings import Settings
from tests.conftest import COUNTRY, ROOT, city_imported
from tests.factories import STATIONS, air_rows, to_csv
from tests.live_server import serve

DISTRICTS = ROOT / "gis_data" / "districts.geojson"
SOUTH = (9.50, 47.11, 9.515, 47.13)  # holds S3 only
GDAL_ENV = {**os.environ, "GDAL_HTTP_TIMEOUT": "10", "CPL_DEBUG": "ON"}
# GDAL's OGCAPI driver copying one layer to a file, as `ogr2ogr` would, through the GDAL 3.12
# that pyogrio bundles: Debian 12's GDAL 3.6 is built without the driver's vector-tile reader
# (its CMake left OGR_ENABLE_DRIVER_GML unset for the driver, fixed in GDAL 3.7.1 by
# OSGeo/gdal#7993), so it cannot read vector tiles through `OGCAPI:` whatever a server serves.
OGCAPI_COPY = """
import sys, pyogrio
source, layer, target = sys.argv[1:]
pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": "10"})
print(*pyogrio.list_layers(source)[:, 0], sep="\\n")
pyogrio.write_dataframe(pyogrio.read_dataframe(source, layer=layer), target)
"""


@dataclass(frozen=True)
class LiveServer:
    url: str  # the OGC API landing page
    sensors: list[dict]  # the sensors table as stored
    requests: list[str]  # the server's request log: path?query of every request, in order


def recorded(app: ASGIApp, log: list[str]) -> ASGIApp:
    """`app`, noting the path and query of each HTTP request it serves in `log`."""

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            log.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    return recording


async def _load_store(conn: asyncpg.Connection, settings: Settings, feeds: FeedRegistry) -> None:
    await conn.execute(
        "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
        "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, cells "
        "RESTART IDENTITY"
    )
    report = await ingest(
        conn,
        feeds["air"],
        to_csv(air_rows(hours=24)),
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    assert report.loaded == 144


@pytest.fixture(scope="module")
async def live(
    settings: Settings, pool: asyncpg.Pool, feeds: FeedRegistry
) -> AsyncIterator[LiveServer]:
    """The API served by uvicorn on a free loopback port, in a thread, over a loaded store."""
    async with pool.acquire() as conn, city_imported(conn, COUNTRY):
        await _load_store(conn, settings, feeds)
        stored = await conn.fetch(
            """SELECT id, feed, external_id, name, cell, mobile, ST_X(geom) AS lon,
                      ST_Y(geom) AS lat FROM sensors ORDER BY id"""
        )
        log: list[str] = []
        async with serve(recorded(create_app(settings), log)) as base:
            yield LiveServer(f"{base}/ogc", [dict(row) for row in stored], log)


def gdal(*args: str) -> subprocess.CompletedProcess:
    """Run a GDAL program; fail the test with its output if it fails."""
    done = subprocess.run(args, capture_output=True, text=True, env=GDAL_ENV, timeout=60)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def test_owslib_lists_collections_and_fetches_items(live, monkeypatch):
    # OWSLib sets no HTTP timeout: give it one, so a hung server fails the test, not hangs it.
    monkeypatch.setattr(requests, "get", functools.partial(requests.get, timeout=10))
    api = Features(live.url)
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert "/collections/{collectionId}/items" in api.api()["paths"]  # via service-desc
    assert api.feature_collections() == [
        "sensors",
        "districts",
        "roads",
        "buildings",
        *(f"cells-r{n}" for n in range(11)),
        *(f"cells-r{n}-{name}" for name in ("no2", "pm25") for n in range(11)),
    ]
    lons, lats = zip(*STATIONS.values(), strict=True)
    bbox = api.collection("sensors")["extent"]["spatial"]["bbox"][0]
    assert bbox == pytest.approx([min(lons), min(lats), max(lons), max(lats)])
    first = api.collection_items("sensors", limit=2)
    assert (first["numberMatched"], first["numberReturned"]) == (3, 2)
    assert [item["properties"]["external_id"] for item in first["features"]] == ["S1", "S2"]
    south = api.collection_items("sensors", bbox=list(SOUTH))
    assert [item["properties"]["external_id"] for item in south["features"]] == ["S3"]
    vaduz = api.collection_item("districts", "vaduz")
    assert (vaduz["id"], vaduz["properties"]["name"]) == ("vaduz", "Vaduz")
    morning = api.collection_items(
        "cells-r10", variable="no2", datetime_="2026-11-02T00:00:00Z/2026-11-02T06:00:00Z"
    )
    assert [item["properties"]["count"] for item in morning["features"]] == [6, 6, 6]


def test_ogrinfo_lists_collections_and_reads_sensors_in_a_bbox(live):
    listing = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{live.url}").stdout
    names = [line.split(": ", 1)[1].split(" (")[0] for line in listing.splitlines() if ": " in line]
    assert names == [
        "sensors",
        "districts",
        "roads",
        "buildings",
        *(f"cells-r{n}" for n in range(11)),
        *(f"cells-r{n}-{name}" for name in ("no2", "pm25") for n in range(11)),
    ]
    spat = [str(value) for value in SOUTH]
    found = gdal("ogrinfo", "-ro", f"OAPIF:{live.url}", "sensors", "-spat", *spat)
    assert "Feature Count: 1" in found.stdout
    assert "external_id (String) = S3" in found.stdout
    assert "external_id (String) = S1" not in found.stdout
    # GDAL asked the server for the bbox, not only filtered on its side.
    assert f"{live.url}/collections/sensors/items?limit=10&bbox=9.5," in found.stderr


def test_ogr2ogr_copies_sensors_into_a_geopackage(live, tmp_path):
    target = tmp_path / "sensors.gpkg"
    # Two per page: the copy has to follow the next links.
    gdal("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{live.url}", "sensors", "-oo", "PAGE_SIZE=2")
    copied = gpd.read_file(target, layer="sensors")
    assert len(copied) == len(live.sensors) == 3
    for row, stored in zip(copied.itertuples(), live.sensors, strict=True):
        assert (row.id, row.feed, row.external_id, row.name, row.h3, bool(row.mobile)) == (
            stored["id"],
            stored["feed"],
            stored["external_id"],
            stored["name"],
            to_hex(stored["cell"]),
            stored["mobile"],
        )
        assert (row.geometry.x, row.geometry.y) == (stored["lon"], stored["lat"])


def test_ogr2ogr_copies_districts_into_a_geopackage(live, tmp_path):
    target = tmp_path / "districts.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{live.url}", "districts")
    copied = gpd.read_file(target, layer="districts").sort_values("id", ignore_index=True)
    source = gpd.read_file(DISTRICTS).sort_values("id", ignore_index=True)
    assert copied["id"].tolist() == source["id"].tolist()
    assert copied["name"].tolist() == source["name"].tolist()
    assert copied.geometry.geom_equals_exact(source.geometry, 1e-9).all()
    assert copied.total_bounds == pytest.approx(source.total_bounds)
    assert not copied.intersects(box(0, 0, 1, 1)).any()


def _items_requests(live: LiveServer, collection: str, since: int) -> list[dict[str, str]]:
    """The query parameters of each items request to `collection` after request `since`."""
    path = f"/ogc/collections/{collection}/items"
    return [
        dict(parse_qsl(line.partition("?")[2]))
        for line in live.requests[since:]
        if line.partition("?")[0] == path
    ]


def test_ogrinfo_where_is_sent_to_the_server_as_a_cql_filter(live):
    since = len(live.requests)
    found = gdal("ogrinfo", "-ro", f"OAPIF:{live.url}", "sensors", "-where", "external_id = 'S3'")
    assert "Feature Count: 1" in found.stdout
    assert "external_id (String) = S3" in found.stdout
    # The server was asked for S3 only (GDAL 3.6 speaks the draft's cql-text), and every page
    # it served held that one feature, not the three sensors.
    asked = _items_requests(live, "sensors", since)
    filtered = [query for query in asked if query.get("filter") == "external_id = 'S3'"]
    assert filtered and all(query["filter-lang"] == "cql-text" for query in filtered)
    for query in filtered:
        page = requests.get(f"{live.url}/collections/sensors/items", query, timeout=10).json()
        assert (page["numberMatched"], page["numberReturned"]) == (1, 1)


def test_ogr2ogr_where_on_a_cell_collection_is_filtered_by_the_server(live, tmp_path):
    cell = to_hex(live.sensors[0]["cell"])
    target = tmp_path / "cells.gpkg"
    since = len(live.requests)
    gdal(
        "ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{live.url}", "cells-r10-no2",
        "-where", f"h3 = '{cell}' AND count >= 24",
    )  # fmt: skip
    copied = gpd.read_file(target)
    assert copied["h3"].tolist() == [cell]
    assert (copied["variable"].tolist(), copied["count"].tolist()) == (["no2"], [24])
    asked = _items_requests(live, "cells-r10-no2", since)
    # Besides the first page GDAL reads for the layer's fields, it asked for the one cell only.
    filters = {query.get("filter") for query in asked} - {None}
    assert filters == {f"(h3 = '{cell}') AND (count >= 24)"}


def test_owslib_reads_queryables_and_filters_with_cql2(live, monkeypatch):
    monkeypatch.setattr(requests, "get", functools.partial(requests.get, timeout=10))
    api = Features(live.url)
    queryables = api.collection_queryables("sensors")
    assert queryables["properties"]["external_id"]["type"] == "string"
    assert queryables["properties"]["geometry"]["format"] == "geometry-any"
    chosen = api.collection_items(
        "sensors", filter="external_id IN ('S1','S2')", sortby=("id", "desc")
    )
    assert [item["properties"]["external_id"] for item in chosen["features"]] == ["S2", "S1"]
    as_json = '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [%s]}]}'
    south = api.collection_items(
        "sensors", filter=as_json % ",".join(map(str, SOUTH)), **{"filter-lang": "cql2-json"}
    )
    assert [item["properties"]["external_id"] for item in south["features"]] == ["S3"]


def test_gdal_ogcapi_reads_the_cells_vector_tiles_without_extent_hints(live, tmp_path):
    source = f"OGCAPI:{live.url}/collections/cells-r8-no2"
    target = tmp_path / "cells.gpkg"
    since = len(live.requests)
    copy = [sys.executable, "-c", OGCAPI_COPY, source, "Zoom level 10", str(target)]
    done = subprocess.run(copy, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # One layer per zoom of the tile matrix set, none left out for lack of an extent hint.
    assert done.stdout.split() == [word for z in range(23) for word in ("Zoom", "level", str(z))]
    copied = gpd.read_file(target).dissolve("h3", aggfunc="first")
    served = requests.get(f"{live.url}/collections/cells-r8-no2/items", timeout=10).json()
    hexagons = {item["properties"]["h3"]: item["properties"] for item in served["features"]}
    assert sorted(copied.index) == sorted(hexagons) and len(hexagons) == 3
    for cell, row in copied.iterrows():
        assert (row["count"], row["mean"]) == (24, pytest.approx(hexagons[cell]["mean"]))
        hexagon = Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(cell)])
        assert row.geometry.symmetric_difference(hexagon).area < 0.01 * hexagon.area
    # GDAL chose the lon/lat tile matrix set and asked only for tiles within its limits.
    tileset = requests.get(
        f"{live.url}/collections/cells-r8-no2/tiles/WorldCRS84Quad", timeout=10
    ).json()
    [limits] = [limit for limit in tileset["tileMatrixSetLimits"] if limit["tileMatrix"] == "10"]
    prefix = "/ogc/collections/cells-r8-no2/tiles/"
    asked = [line.split("?")[0][len(prefix) :] for line in live.requests[since:]]
    tiles = [path.split("/") for path in asked if path.count("/") == 3]
    assert tiles and all(name == "WorldCRS84Quad" and z == "10" for name, z, _, _ in tiles)
    for _, _, row, col in tiles:
        assert limits["minTileRow"] <= int(row) <= limits["maxTileRow"]
        assert limits["minTileCol"] <= int(col) <= limits["maxTileCol"]
