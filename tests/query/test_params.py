from datetime import UTC, datetime, timedelta

import pytest

from citytwin.errors import InvalidParameter
from citytwin.query.params import (
    TimeRange,
    parse_area,
    parse_bbox,
    parse_bucket,
    parse_polygon,
    parse_time,
    parse_time_range,
    widen_to_buckets,
)


def test_bbox_becomes_a_polygon():
    assert parse_bbox("9.5,47.1,9.6,47.2").bounds == (9.5, 47.1, 9.6, 47.2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9.5,47.1,9.6", "four numbers"),
        ("a,b,c,d", "four or six numbers"),
        ("9.5,47.2,9.6,47.1", "latitudes"),
        ("9.6,47.1,9.5,47.2", "min longitude is greater"),
        ("9.5,47.1,200,47.2", "longitudes"),
    ],
)
def test_bad_bbox_names_the_parameter(text, message):
    with pytest.raises(InvalidParameter, match=message) as error:
        parse_bbox(text)
    assert error.value.parameter == "bbox"


def test_polygon_from_geojson_and_wkt():
    geojson = '{"type":"Polygon","coordinates":[[[9.5,47.1],[9.6,47.1],[9.6,47.2],[9.5,47.1]]]}'
    assert parse_polygon(geojson, 10).area == pytest.approx(0.005)
    wkt = "POLYGON((9.5 47.1, 9.6 47.1, 9.6 47.2, 9.5 47.1))"
    assert parse_polygon(wkt, 10).area == pytest.approx(0.005)


def test_polygon_vertices_are_bounded_by_the_setting():
    square = "POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"
    assert parse_polygon(square, 5).area == 1
    with pytest.raises(InvalidParameter, match="more than 4 vertices") as error:
        parse_polygon(square, 4, "coords")
    assert error.value.parameter == "coords"


def test_self_crossing_polygon_is_refused():
    with pytest.raises(InvalidParameter, match="invalid geometry: Self-intersection"):
        parse_polygon("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", 10)


def test_polygon_must_be_a_polygon():
    with pytest.raises(InvalidParameter, match="not Point"):
        parse_polygon("POINT(9.5 47.1)", 10)


def test_bbox_and_polygon_together_are_refused():
    with pytest.raises(InvalidParameter) as error:
        parse_area("9.5,47.1,9.6,47.2", "POLYGON((0 0, 1 0, 1 1, 0 0))", None, 10, 10)
    assert error.value.parameter == "polygon"


def test_times_are_utc_and_ordered():
    assert parse_time("2026-11-02T08:00:00+01:00", "start") == datetime(2026, 11, 2, 7, tzinfo=UTC)
    # An unencoded '+' in a query string arrives as a space.
    assert parse_time("2026-11-02T08:00:00 01:00", "start") == datetime(2026, 11, 2, 7, tzinfo=UTC)
    assert parse_time("2026-11-02", "start") == datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(InvalidParameter) as error:
        parse_time_range("2026-11-03", "2026-11-02")
    assert error.value.parameter == "end"
    with pytest.raises(InvalidParameter, match="not an ISO 8601 time"):
        parse_time("yesterday", "start")


def test_buckets_are_multiples_of_the_rollup_bucket():
    assert parse_bucket("1d", 3600) == timedelta(days=1)
    with pytest.raises(InvalidParameter, match="multiple of the 3600 s"):
        parse_bucket("15min", 3600)
    with pytest.raises(InvalidParameter, match="not an interval"):
        parse_bucket("soon", 3600)


def test_ranges_widen_to_whole_buckets():
    start, end = (
        datetime(2026, 11, 2, 7, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 9, 0, 1, tzinfo=UTC),
    )
    widened = widen_to_buckets(TimeRange(start, end), 3600)
    assert widened == TimeRange(
        datetime(2026, 11, 2, 7, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC)
    )
