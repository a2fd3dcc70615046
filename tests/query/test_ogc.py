"""The pure OGC API - Features helpers: `datetime`, ids, cell reach, links."""

import random
from datetime import UTC, datetime, timedelta

import h3.api.basic_int as h3
import pytest
import shapely

from citytwin.errors import InvalidParameter
from citytwin.query import ogc
from citytwin.query.cells import boundary
from citytwin.query.params import TimeRange

T0 = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (None, None, None),
        ("2026-11-02T00:00:00Z", T0, T0 + timedelta(microseconds=1)),
        ("2026-11-02t01:00:00+01:00", T0, T0 + timedelta(microseconds=1)),
        ("2026-11-02T00:00:00Z/2026-11-03T00:00:00Z", T0, T0 + timedelta(days=1)),
        ("../2026-11-02T00:00:00Z", None, T0),
        ("2026-11-02T00:00:00Z/..", T0, None),
        ("2026-11-02T00:00:00Z/", T0, None),
        ("../..", None, None),
    ],
)
def test_parse_datetime(text, start, end):
    assert ogc.parse_datetime(text) == TimeRange(start, end)


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2026-11-03T00:00:00Z/2026-11-02T00:00:00Z",
        "a/b/c",
        "..",
        "2026-11-02/2026-11-02",
    ],
)
def test_bad_datetimes_name_the_parameter(text):
    with pytest.raises(InvalidParameter) as caught:
        ogc.parse_datetime(text)
    assert caught.value.parameter == "datetime"


def test_collection_ids():
    assert ogc.find_collection("cells-r0", 10).resolution == 0
    assert ogc.find_collection("cells-r10", 10).resolution == 10
    assert ogc.find_collection("sensors", 10) is ogc.SENSORS
    for unknown in ("cells-r11", "cells-r01", "cells-r", "Sensors", "cells-r-1"):
        assert ogc.find_collection(unknown, 10) is None


def test_cell_and_sensor_feature_ids():
    cell = h3.latlng_to_cell(47.14, 9.52, 8)
    assert ogc.split_cell_id(f"{cell:x}:no2", 8) == (cell, "no2")
    assert ogc.split_cell_id(f"{cell:x}", 8) == (cell, None)
    assert ogc.split_cell_id(f"{cell:x}", 9) is None
    assert ogc.split_cell_id("zz:no2", 8) is None
    ids = [ogc.sensor_id(text) for text in ("7", "2147483647", "2147483648", "-1", "7a", "")]
    assert ids == [7, 2147483647, None, None, None, None]


@pytest.mark.parametrize("resolution", range(0, 11))
def test_grown_bounds_hold_the_hexagons_and_their_descendants(resolution):
    rng = random.Random(resolution)
    for _ in range(20):
        # Away from the antimeridian, which bboxes do not cross.
        lon, lat = rng.uniform(-100, 100), rng.uniform(-70, 70)
        size = rng.choice([0.001, 0.1, 2.0])
        bounds = (lon, lat, lon + size, lat + size)
        west, south, east, north = ogc.grow_by_cells(bounds, resolution)
        grown = shapely.box(west, south, east, north)
        # A hexagon touching the bounds: its descendants' centres are inside the grown box.
        parent = h3.latlng_to_cell(lat, lon, resolution)
        children = h3.cell_to_children(parent, min(resolution + 3, 15))
        for child in rng.sample(children, min(len(children), 200)):
            clat, clon = h3.cell_to_latlng(child)
            assert grown.contains(shapely.Point(clon, clat))
        # A base centre inside the bounds: its hexagon is inside the grown box.
        assert grown.contains(shapely.Polygon(boundary(parent)))


def test_with_query_replaces_and_keeps_parameters():
    url = "http://h/ogc/collections/sensors/items?limit=2&bbox=9.4%2C47.0%2C9.6%2C47.2&offset=4"
    assert ogc.with_query(url, offset=6) == (
        "http://h/ogc/collections/sensors/items?limit=2&bbox=9.4,47.0,9.6,47.2&offset=6"
    )


def test_items_links():
    links = ogc.items_links("http://h/i?limit=10&offset=10", "http://h/c", 10, 10, 10, 25)
    by_rel = {link["rel"]: link["href"] for link in links}
    assert by_rel == {
        "self": "http://h/i?limit=10&offset=10",
        "alternate": "http://h/i?limit=10&offset=10&f=parquet",
        "collection": "http://h/c",
        "next": "http://h/i?limit=10&offset=20",
        "prev": "http://h/i?limit=10&offset=0",
    }
    last = ogc.items_links("http://h/i?offset=20", "http://h/c", 20, 10, 5, 25)
    assert {link["rel"] for link in last} == {"self", "alternate", "collection", "prev"}
    capped = ogc.items_links(
        "http://h/i?limit=50000", "http://h/c", 0, 10_000, 10_000, 25_000, 50_000
    )
    by_rel = {link["rel"]: link for link in capped}
    assert by_rel["self"]["title"] == "This page (limit capped at 10000)"
    assert by_rel["next"]["href"] == "http://h/i?limit=10000&offset=10000"
