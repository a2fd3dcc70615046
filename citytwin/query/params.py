"""Area, time range and bucket parameters: parsed from text, checked, with named errors."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from citytwin.core.limits import LONGEST_INTERVAL, check_time
from citytwin.errors import InvalidParameter
from citytwin.feeds.definition import parse_interval
from citytwin.query.cells import parse_cells


@dataclass(frozen=True)
class Area:
    """Where: a geometry in EPSG:4326 (from a bbox or a polygon) and/or a set of H3 cells."""

    geometry: BaseGeometry | None = None
    cells: tuple[int, ...] = ()

    @property
    def wkt(self) -> str | None:
        return None if self.geometry is None else self.geometry.wkt


def parse_bbox(text: str) -> BaseGeometry:
    """`minlon,minlat,maxlon,maxlat` as a polygon; `minlon,minlat,minz,maxlon,maxlat,maxz`
    (OGC API's 3D box) too, its heights ignored since the data are on the ground."""
    return lonlat_box(bbox_numbers(text))


def bbox_numbers(text: str) -> tuple[float, float, float, float]:
    """The four corner numbers of a `bbox` of four numbers, or six (heights dropped)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidParameter("bbox", f"{text!r}: four or six numbers expected") from None
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise InvalidParameter(
            "bbox",
            f"{text!r}: four numbers expected (minlon,minlat,maxlon,maxlat), or six with heights",
        )
    return values[0], values[1], values[2], values[3]


def lonlat_box(values: tuple[float, float, float, float]) -> BaseGeometry:
    """A lon/lat box as a polygon, its corners checked (400 naming `bbox`)."""
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise InvalidParameter("bbox", "longitudes must be within -180..180")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise InvalidParameter("bbox", "latitudes must be within -90..90 with min <= max")
    if min_lon > max_lon:
        raise InvalidParameter(
            "bbox", "min longitude is greater than max (antimeridian boxes are not supported)"
        )
    return box(min_lon, min_lat, max_lon, max_lat)


POLYGONAL = ("Polygon", "MultiPolygon")


def parse_polygon(text: str, max_vertices: int, parameter: str = "polygon") -> BaseGeometry:
    """A GeoJSON geometry or WKT (Polygon or MultiPolygon), valid, in EPSG:4326, of at most
    `max_vertices`; errors name `parameter`."""
    return parse_geometry(text, parameter, POLYGONAL, max_vertices)


def parse_geometry(
    text: str, parameter: str, kinds: tuple[str, ...], max_vertices: int | None
) -> BaseGeometry:
    """A GeoJSON geometry or WKT of one of `kinds`, valid, in EPSG:4326, of at most
    `max_vertices` (None: the caller bounds the text); errors name `parameter`."""
    try:
        geometry = (
            shape(orjson.loads(text)) if text.lstrip().startswith("{") else shapely.from_wkt(text)
        )
    except (
        orjson.JSONDecodeError,
        shapely.errors.GEOSException,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
    ) as exc:
        raise InvalidParameter(parameter, f"not a GeoJSON geometry or WKT: {exc}") from None
    if geometry.geom_type not in kinds:
        raise InvalidParameter(
            parameter, f"must be a {' or '.join(kinds)}, not {geometry.geom_type}"
        )
    if max_vertices is not None and shapely.get_num_coordinates(geometry) > max_vertices:
        raise InvalidParameter(parameter, f"more than {max_vertices} vertices")
    if not geometry.is_valid:
        raise InvalidParameter(parameter, f"invalid geometry: {shapely.is_valid_reason(geometry)}")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise InvalidParameter(parameter, "coordinates must be lon/lat in EPSG:4326")
    return geometry


def parse_area(
    bbox: str | None,
    polygon: str | None,
    cells: str | None,
    max_resolution: int,
    max_vertices: int,
) -> Area:
    """The area of a query from its optional bbox, polygon and cells parameters."""
    if bbox and polygon:
        raise InvalidParameter("polygon", "give bbox or polygon, not both")
    geometry = None
    if bbox:
        geometry = parse_bbox(bbox)
    elif polygon:
        geometry = parse_polygon(polygon, max_vertices)
    chosen = tuple(parse_cells(cells, max_resolution)) if cells else ()
    return Area(geometry, chosen)


def parse_time(text: str | None, parameter: str) -> datetime | None:
    """An ISO 8601 instant; a value without offset is taken as UTC."""
    if text is None or not text.strip():
        return None
    # An unencoded "+01:00" in a query string arrives as " 01:00".
    cleaned = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())
    try:
        value = datetime.fromisoformat(cleaned)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        raise InvalidParameter(parameter, f"{text!r} is not an ISO 8601 time") from None
    except OverflowError:  # a zone shift past year 1 or 9999
        raise InvalidParameter(parameter, f"{text!r} is out of range") from None
    return check_time(value, parameter)


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


def parse_time_range(start: str | None, end: str | None) -> TimeRange:
    """[start, end) with start before end."""
    time_range = TimeRange(parse_time(start, "start"), parse_time(end, "end"))
    if time_range.start and time_range.end and time_range.start >= time_range.end:
        raise InvalidParameter("end", "must be after start")
    return time_range


def parse_bucket(text: str, base_seconds: int) -> timedelta:
    """A bucket like `1h` or `1d`: a whole multiple of the rollups' base bucket."""
    try:
        bucket = parse_interval(text)
    except ValueError as exc:
        raise InvalidParameter("bucket", str(exc)) from None
    except OverflowError:
        bucket = LONGEST_INTERVAL * 2
    if bucket > LONGEST_INTERVAL:
        raise InvalidParameter("bucket", f"at most {LONGEST_INTERVAL.days} days")
    if bucket.total_seconds() % base_seconds:
        raise InvalidParameter(
            "bucket", f"must be a whole multiple of the {base_seconds} s rollup bucket"
        )
    return bucket


def widen_to_buckets(time_range: TimeRange, base_seconds: int) -> TimeRange:
    """Round a range out to whole rollup buckets: aggregates cannot split a bucket."""

    def floor(value: datetime) -> datetime:
        return datetime.fromtimestamp(value.timestamp() // base_seconds * base_seconds, UTC)

    def ceil(value: datetime) -> datetime:
        down = floor(value)
        return down if down == value else down + timedelta(seconds=base_seconds)

    return TimeRange(
        time_range.start and floor(time_range.start), time_range.end and ceil(time_range.end)
    )
