"""Coordinate reference systems named by OGC APIs (`crs`, `bbox-crs`): URIs in, lon/lat out."""

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
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
