"""Coordinate reference systems named by OGC APIs (`crs`, `bbox-crs`): URIs in, lon/lat out."""

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from citytwin.errors import InvalidParameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
_SHORT = re.compile(r"(?i)EPSG:(\d{4,5})")
_URI = re.compile(r"https?://www\.opengis\.net/def/crs/EPSG/0/(\d{4,5})")


def epsg_uri(epsg: int) -> str:
    """The OGC URI of an EPSG code."""
    return EPSG_URI.format(epsg)


def parse_crs(text: str | None, allowed: list[str], parameter: str = "crs") -> str:
    """The URI `text` names (a URI, `[EPSG:n]` or `EPSG:n`), one of `allowed`; default CRS84."""
    if text is None or not text.strip():
        return CRS84
    name = text.strip().strip("[]")
    short = _SHORT.fullmatch(name)
    uri = epsg_uri(int(short[1])) if short else name.replace("https://", "http://")
    if uri.upper() in ("CRS84", "OGC:CRS84"):
        uri = CRS84
    if uri not in allowed:
        raise InvalidParameter(parameter, f"{text!r} is not one of {', '.join(allowed)}")
    return uri


def _epsg(uri: str) -> int | None:
    match = _URI.fullmatch(uri)
    return None if match is None else int(match[1])


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    # always_xy: coordinates are (x, y) = (lon, lat) or (easting, northing) whatever the axis
    # order the EPSG code declares, as GeoJSON and WKT in these APIs are.
    def name(uri: str) -> str:
        return "OGC:CRS84" if uri == CRS84 else f"EPSG:{_epsg(uri)}"

    return Transformer.from_crs(name(source), name(target), always_xy=True)


def to_crs84(geometry: BaseGeometry, source: str) -> BaseGeometry:
    """`geometry` (x, y in `source`) in lon/lat."""
    if source == CRS84:
        return geometry
    return shapely.transform(geometry, _vectorised(_transformer(source, CRS84)))


def from_crs84(geometry: BaseGeometry, target: str) -> BaseGeometry:
    """`geometry` (lon/lat) in `target` (x, y)."""
    if target == CRS84:
        return geometry
    return shapely.transform(geometry, _vectorised(_transformer(CRS84, target)))


def bounds_to_crs84(
    bounds: tuple[float, float, float, float], source: str
) -> tuple[float, float, float, float]:
    """A box in `source` as the lon/lat box holding it (edges densified)."""
    if source == CRS84:
        return bounds
    return _transformer(source, CRS84).transform_bounds(*bounds, densify_pts=21)


def _vectorised(transformer: Transformer) -> Callable[[np.ndarray], np.ndarray]:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


def feature_crs_list(city_epsg: int | None) -> list[str]:
    """The CRSs OGC API - Features answers in: CRS84, EPSG:4326, Web Mercator, and the city's
    projected CRS (its UTM zone) once a city is imported."""
    listed = [CRS84, epsg_uri(4326), epsg_uri(3857)]
    if city_epsg is not None and epsg_uri(city_epsg) not in listed:
        listed.append(epsg_uri(city_epsg))
    return listed


@lru_cache(maxsize=64)
def lat_first(uri: str) -> bool:
    """Whether the CRS `uri` names its axes northing first (EPSG:4326 is lat, lon), the order
    OGC API - Features Part 2 writes and reads its coordinates in."""
    if uri == CRS84:
        return False
    axes = CRS.from_epsg(_epsg(uri)).axis_info
    return bool(axes) and axes[0].direction in ("north", "south")


def geometry_to_crs(geometry: dict, target: str) -> dict:
    """A GeoJSON geometry (lon/lat) with its coordinates in `target`, in its axis order."""
    if target == CRS84:
        return geometry
    moved = from_crs84(shape(geometry), target)
    if lat_first(target):
        moved = shapely.transform(moved, lambda coords: coords[:, ::-1])
    return mapping(moved)


def bbox_to_crs84(
    bounds: tuple[float, float, float, float], source: str
) -> tuple[float, float, float, float]:
    """A `bbox` written in `source` (in its axis order) as the lon/lat box holding it."""
    if lat_first(source):
        bounds = (bounds[1], bounds[0], bounds[3], bounds[2])
    return bounds_to_crs84(bounds, source)
