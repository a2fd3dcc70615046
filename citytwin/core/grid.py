"""The city grid: square cells in the city's UTM zone, with centres also in lon/lat."""

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from citytwin.errors import InvalidParameter

DEFAULT_MAX_CELLS = 4_000_000  # a 2000 x 2000 grid: 16 MB per float32 variable and time step


def utm_epsg(lon: float, lat: float) -> int:
    """The EPSG code of the WGS 84 / UTM zone holding (lon, lat): 326xx north, 327xx south."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameter("boundary", f"({lon}, {lat}) is not a lon/lat position")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class Grid:
    """A north-up grid of `ny` x `nx` square cells of `cell_size` metres in EPSG `epsg`."""

    epsg: int
    cell_size: float
    west: float
    north: float
    nx: int
    ny: int

    @property
    def crs(self) -> CRS:
        """The projected CRS of the grid."""
        return CRS.from_epsg(self.epsg)

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx), the order of the layers' spatial dimensions."""
        return self.ny, self.nx

    @property
    def cells(self) -> int:
        """How many cells the grid has."""
        return self.nx * self.ny

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the grid's outer edges, metres."""
        return (
            self.west,
            self.north - self.ny * self.cell_size,
            self.west + self.nx * self.cell_size,
            self.north,
        )

    @property
    def x(self) -> np.ndarray:
        """Cell-centre eastings, west to east."""
        return self.west + self.cell_size * (np.arange(self.nx) + 0.5)

    @property
    def y(self) -> np.ndarray:
        """Cell-centre northings, north to south (rows as in a north-up raster)."""
        return self.north - self.cell_size * (np.arange(self.ny) + 0.5)

    @property
    def geotransform(self) -> tuple[float, float, float, float, float, float]:
        """The GDAL geotransform of the grid."""
        return (self.west, self.cell_size, 0.0, self.north, 0.0, -self.cell_size)

    @cached_property
    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """2-D (ny, nx) arrays of the cell centres' longitudes and latitudes (EPSG:4326)."""
        xx, yy = np.meshgrid(self.x, self.y)
        to_wgs84 = Transformer.from_crs(self.crs, 4326, always_xy=True)
        lon, lat = to_wgs84.transform(xx, yy)
        return np.asarray(lon), np.asarray(lat)

    def index_of(
        self, lon: np.ndarray, lat: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, inside) of the cells holding lon/lat points; row and col are only
        meaningful where `inside`."""
        to_grid = Transformer.from_crs(4326, self.crs, always_xy=True)
        x, y = to_grid.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        col = np.floor((np.asarray(x) - self.west) / self.cell_size)
        row = np.floor((self.north - np.asarray(y)) / self.cell_size)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return (
            np.where(inside, row, 0).astype(np.int64),
            np.where(inside, col, 0).astype(np.int64),
            inside,
        )

    def bytes_per_step(self, variables: int = 1, itemsize: int = 4) -> int:
        """Memory one time step of `variables` arrays of `itemsize` bytes takes."""
        return self.cells * variables * itemsize

    def as_dict(self) -> dict:
        """The grid's definition as plain JSON values."""
        return {
            "epsg": self.epsg,
            "cell_size": self.cell_size,
            "west": self.west,
            "north": self.north,
            "nx": self.nx,
            "ny": self.ny,
        }


def city_grid(
    boundary: BaseGeometry,
    cell_size: float,
    max_cells: int = DEFAULT_MAX_CELLS,
    epsg: int | None = None,
) -> Grid:
    """The grid covering `boundary` (lon/lat) in metric CRS `epsg` (default: the UTM zone of its
    centroid); edges on multiples of the cell size, so grids of different cell sizes nest.
    InvalidParameter `cell_size` if too fine."""
    if not (math.isfinite(cell_size) and cell_size > 0):
        raise InvalidParameter("cell_size", f"{cell_size!r} is not a positive number of metres")
    if epsg is None:
        centroid = boundary.centroid
        epsg = utm_epsg(centroid.x, centroid.y)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    projected = shapely.transform(boundary, lambda xy: np.column_stack(to_utm.transform(*xy.T)))
    min_x, min_y, max_x, max_y = projected.bounds
    west = math.floor(min_x / cell_size) * cell_size
    south = math.floor(min_y / cell_size) * cell_size
    east = math.ceil(max_x / cell_size) * cell_size
    north = math.ceil(max_y / cell_size) * cell_size
    nx = round((east - west) / cell_size)
    ny = round((north - south) / cell_size)
    grid = Grid(epsg, float(cell_size), float(west), float(north), nx, ny)
    if grid.cells > max_cells:
        mib = grid.bytes_per_step() / 2**20
        raise InvalidParameter(
            "cell_size",
            f"{cell_size:g} m gives a {nx} x {ny} grid of {grid.cells:,} cells "
            f"({mib:,.0f} MiB per variable and time step), over the limit of {max_cells:,} "
            "cells; choose a larger cell size",
        )
    return grid
