"""WebMercatorQuad tiles (morecantile) and the H3 resolution each zoom shows."""

from dataclasses import dataclass
from functools import lru_cache

import h3
import morecantile

from citytwin.errors import InvalidParameter

TMS = morecantile.tms.get("WebMercatorQuad")
MAX_ZOOM = 22
TILE_PIXELS = 512
# Hexagons at most this many pixels across (at the equator; wider towards the poles): fine
# enough that a city of a few kilometres stays a shape of hexagons at zoom 9, coarse enough
# to read one hexagon.
HEXAGON_PIXELS = 40
_EQUATOR_METRES = 40_075_016.686


def _coarsest_readable(z: int) -> int:
    metres_per_pixel = _EQUATOR_METRES / TILE_PIXELS / 2**z
    for resolution in range(16):
        across = 2 * h3.average_hexagon_edge_length(resolution, "m") / metres_per_pixel
        if across <= HEXAGON_PIXELS:
            return resolution
    return 15


ZOOM_RESOLUTION = tuple(_coarsest_readable(z) for z in range(MAX_ZOOM + 1))


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        return _bounds(self.z, self.x, self.y)


@lru_cache(maxsize=65_536)
def _bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    # morecantile goes through pyproj on every call: tiles repeat, so remember them.
    box = TMS.bounds(morecantile.Tile(x, y, z))
    return box.left, box.bottom, box.right, box.top


def parse_tile(z: int, x: int, y: int) -> Tile:
    """A tile of WebMercatorQuad; out-of-range indexes are errors naming the index."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter("z", f"must be within 0..{MAX_ZOOM}")
    size = 2**z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < size:
            raise InvalidParameter(name, f"must be within 0..{size - 1} at zoom {z}")
    return Tile(z, x, y)


def resolution_for_zoom(z: int, base_resolution: int) -> int:
    """The H3 resolution shown at zoom `z` (never finer than the base)."""
    return min(ZOOM_RESOLUTION[min(z, len(ZOOM_RESOLUTION) - 1)], base_resolution)


def matrix_limits(bounds: tuple[float, float, float, float], maxzoom: int) -> list[dict]:
    """OGC `tileMatrixSetLimits`: the rows and columns of tiles touching `bounds` (lon/lat)
    at each zoom 0 … `maxzoom`, so clients ask for tiles where the data is."""
    west, south, east, north = bounds
    limits = []
    for z in range(maxzoom + 1):
        top_left = TMS.tile(west, north, z, truncate=True)
        bottom_right = TMS.tile(east, south, z, truncate=True)
        last = 2**z - 1
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": min(top_left.y, last),
                "maxTileRow": min(bottom_right.y, last),
                "minTileCol": min(top_left.x, last),
                "maxTileCol": min(bottom_right.x, last),
            }
        )
    return limits


def tms_document() -> dict:
    """WebMercatorQuad as OGC Two Dimensional Tile Matrix Set 2.0 JSON, with the 1.0 members
    beside it: GDAL before 3.7 (Debian 12's 3.6) reads only the 1.0 encoding and fails on a
    2.0-only document, later clients read the 2.0 members."""
    document = TMS.model_dump(mode="json", exclude_none=True)
    matrices = document["tileMatrices"]
    west, south, east, north = TMS.xy_bbox
    return {
        **document,
        "type": "TileMatrixSetType",
        "identifier": document["id"],
        "supportedCRS": document["crs"],
        "boundingBox": {
            "type": "BoundingBoxType",
            "crs": document["crs"],
            "lowerCorner": [west, south],
            "upperCorner": [east, north],
        },
        "tileMatrix": [
            {
                "type": "TileMatrixType",
                "identifier": matrix["id"],
                "scaleDenominator": matrix["scaleDenominator"],
                "topLeftCorner": matrix["pointOfOrigin"],
                "tileWidth": matrix["tileWidth"],
                "tileHeight": matrix["tileHeight"],
                "matrixWidth": matrix["matrixWidth"],
                "matrixHeight": matrix["matrixHeight"],
            }
            for matrix in matrices
        ],
    }
