"""H3 cells: ints inside, hex strings at the edge; descendant ranges for index scans."""

from collections.abc import Sequence
from functools import lru_cache

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import shapely

from citytwin.errors import InvalidParameter

RESOLUTION_SHIFT = 52
DIGIT_BITS = 3


Bounds = tuple[float, float, float, float]
STAT_COLUMNS = ("count", "mean", "min", "max", "std")  # per cell, as /cells answers


def parse_cell(text: str, parameter: str = "h3", max_resolution: int = 15) -> int:
    """A hex H3 cell as an int, at most at `max_resolution`; InvalidParameter naming `parameter`
    if it is not one."""
    try:
        cell = int(text.strip(), 16)
    except ValueError:
        raise InvalidParameter(parameter, f"{text!r} is not an H3 cell (hex)") from None
    if not h3.is_valid_cell(cell):
        raise InvalidParameter(parameter, f"{text!r} is not a valid H3 cell")
    if h3.get_resolution(cell) > max_resolution:
        raise InvalidParameter(
            parameter, f"{to_hex(cell)} is finer than the base resolution {max_resolution}"
        )
    return cell


def parse_cells(text: str, max_resolution: int, parameter: str = "cells") -> list[int]:
    """Comma-separated hex cells, each at a resolution up to `max_resolution`."""
    cells = [
        parse_cell(part, parameter, max_resolution) for part in text.split(",") if part.strip()
    ]
    if not cells:
        raise InvalidParameter(parameter, "give at least one H3 cell")
    return cells


def resolution_of(cell: int) -> int:
    """The H3 resolution of an int cell."""
    return h3.get_resolution(cell)


def cells_for(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """The H3 cell (int64) of each point; each distinct point is indexed once."""
    if len(lon) == 0:
        return np.empty(0, dtype=np.int64)
    codes, uniques = pd.MultiIndex.from_arrays([lon, lat]).factorize()
    cells = np.fromiter(
        (h3.latlng_to_cell(y, x, resolution) for x, y in uniques),
        dtype=np.uint64,
        count=len(uniques),
    )
    # H3 indexes have bit 63 clear, so they fit a signed BIGINT unchanged.
    return cells.astype(np.int64)[codes]


def to_hex(cell: int) -> str:
    """The hex string of an int cell."""
    return format(cell, "x")


def descendant_range(cell: int, resolution: int) -> tuple[int, int]:
    """[low, high] bounding every descendant of `cell` at `resolution` as BIGINT.

    Descendants share the cell's leading digits; the digits below it run 0..6 and the unused
    digits are all 7, so every descendant lies in this range (and no cell of another parent).
    """
    parent_resolution = h3.get_resolution(cell)
    base = (cell & ~(15 << RESOLUTION_SHIFT)) | (resolution << RESOLUTION_SHIFT)
    free_bits = DIGIT_BITS * (resolution - parent_resolution)
    below = DIGIT_BITS * (15 - resolution)
    # Clear the digits between the two resolutions; keep the trailing 7s of the unused digits.
    low = base & ~(((1 << free_bits) - 1) << below)
    high = low | (((1 << free_bits) - 1) << below)
    return low, high


@lru_cache(maxsize=65_536)
def boundary(cell: int) -> list[list[float]]:
    """The cell's hexagon (or pentagon) as a closed GeoJSON ring of [lon, lat]."""
    ring = [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]]


def center(cell: int) -> tuple[float, float]:
    """(lon, lat) of the cell's centre."""
    lat, lng = h3.cell_to_latlng(cell)
    return lng, lat


def parents(cells: np.ndarray, resolution: int) -> np.ndarray:
    """The parents at `resolution` of int64 cells (finer or equal), by bit operations."""
    mode = np.int64(15) << RESOLUTION_SHIFT
    return (
        (cells & ~mode)
        | (np.int64(resolution) << RESOLUTION_SHIFT)
        | np.int64((1 << (DIGIT_BITS * (15 - resolution))) - 1)
    )


def cells_bounds(cells: Sequence[int]) -> Bounds | None:
    """(west, south, east, north) of the hexagons of `cells` (their vertices, not centres)."""
    if not cells:
        return None
    vertices = np.array([vertex for cell in cells for vertex in boundary(cell)])
    west, south = vertices.min(axis=0)
    east, north = vertices.max(axis=0)
    return float(west), float(south), float(east), float(north)


@lru_cache(maxsize=65_536)
def hexagon_wkb(cell: int) -> bytes:
    """The cell's polygon as WKB (lon/lat), for PostGIS to clip into a tile."""
    return shapely.Polygon(boundary(cell)).wkb


# The centres of an H3 cell's descendants lie within 1.16 times its centre-to-vertex offsets
# (measured over resolutions 0-13); 2.5 of them also cover the hexagon itself, with a margin.
REACH_FACTOR = 2.5


def _reach(bounds: Bounds, resolution: int) -> tuple[float, float]:
    """Largest lon and lat offsets from a cell's centre to its vertices, among the cells at the
    corners and the middle of `bounds` (cell sizes change slowly over the globe)."""
    west, south, east, north = bounds
    points = [(west, south), (west, north), (east, south), (east, north)]
    points.append(((west + east) / 2, (south + north) / 2))
    dx = dy = 0.0
    for lon, lat in points:
        cell = h3.latlng_to_cell(lat, lon, resolution)
        centre_lat, centre_lon = h3.cell_to_latlng(cell)
        for lat_v, lon_v in h3.cell_to_boundary(cell):
            dx = max(dx, abs((lon_v - centre_lon + 180) % 360 - 180))
            dy = max(dy, abs(lat_v - centre_lat))
    return dx, dy


def grow_by_cells(bounds: Bounds, resolution: int) -> Bounds:
    """`bounds` grown to hold every resolution-N hexagon with a descendant centre inside it, and
    every descendant centre of a resolution-N hexagon that touches it (clamped to the globe)."""
    dx, dy = _reach(bounds, resolution)
    west, south, east, north = bounds
    return (
        max(west - REACH_FACTOR * dx, -180.0),
        max(south - REACH_FACTOR * dy, -90.0),
        min(east + REACH_FACTOR * dx, 180.0),
        min(north + REACH_FACTOR * dy, 90.0),
    )
