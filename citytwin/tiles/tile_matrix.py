"""The tile matrix sets served (morecantile): WebMercatorQuad for web maps, WorldCRS84Quad for
clients that place tiles by the collections' lon/lat extent (GDAL's OGCAPI driver), and the H3
resolution each zoom shows."""

from dataclasses import dataclass
from functools import lru_cache

import h3
import morecantile

from citytwin.errors import InvalidParameter


@dataclass(frozen=True)
class MatrixSet:
    tms: morecantile.TileMatrixSet
    srid: int  # PostGIS SRID of the set's CRS: tiles are drawn in it


# Served tile matrix sets by id. GDAL's OGCAPI driver prefers WorldCRS84Quad and places vector
# tiles by the collection's lon/lat extent taken as coordinates of the tile matrix set, which is
# right only for a lon/lat set.
MATRIX_SETS = {
    "WebMercatorQuad": MatrixSet(morecantile.tms.get("WebMercatorQuad"), 3857),
    "WorldCRS84Quad": MatrixSet(morecantile.tms.get("WorldCRS84Quad"), 4326),
}
WEB_MERCATOR = "WebMercatorQuad"
TMS = MATRIX_SETS[WEB_MERCATOR].tms
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
    matrix_set: str = WEB_MERCATOR

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        return _bounds(self.matrix_set, self.z, self.x, self.y, geographic=True)

    @property
    def xy_bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the CRS of its tile matrix set."""
        return _bounds(self.matrix_set, self.z, self.x, self.y, geographic=False)

    @property
    def srid(self) -> int:
        return MATRIX_SETS[self.matrix_set].srid


@lru_cache(maxsize=65_536)
def _bounds(
    matrix_set: str, z: int, x: int, y: int, geographic: bool
) -> tuple[float, float, float, float]:
    # morecantile goes through pyproj on every call: tiles repeat, so remember them.
    tms = MATRIX_SETS[matrix_set].tms
    tile = morecantile.Tile(x, y, z)
    box = tms.bounds(tile) if geographic else tms.xy_bounds(tile)
    return box.left, box.bottom, box.right, box.top


def parse_tile(z: int, x: int, y: int, matrix_set: str = WEB_MERCATOR) -> Tile:
    """A tile of `matrix_set`; out-of-range indexes are errors naming the index."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter("z", f"must be within 0..{MAX_ZOOM}")
    matrix = MATRIX_SETS[matrix_set].tms.matrix(z)
    for name, value, size in (("x", x, matrix.matrixWidth), ("y", y, matrix.matrixHeight)):
        if not 0 <= value < size:
            raise InvalidParameter(name, f"must be within 0..{size - 1} at zoom {z}")
    return Tile(z, x, y, matrix_set)


def resolution_for_zoom(z: int, base_resolution: int) -> int:
    """The H3 resolution shown at zoom `z` (never finer than the base)."""
    return min(ZOOM_RESOLUTION[min(z, len(ZOOM_RESOLUTION) - 1)], base_resolution)


def matrix_limits(
    bounds: tuple[float, float, float, float], maxzoom: int, matrix_set: str = WEB_MERCATOR
) -> list[dict]:
    """OGC `tileMatrixSetLimits`: the rows and columns of tiles of `matrix_set` touching
    `bounds` (lon/lat) at each zoom 0 … `maxzoom`, so clients ask for tiles where the data is."""
    tms = MATRIX_SETS[matrix_set].tms
    west, south, east, north = bounds
    limits = []
    for z in range(maxzoom + 1):
        top_left = tms.tile(west, north, z, truncate=True)
        bottom_right = tms.tile(east, south, z, truncate=True)
        matrix = tms.matrix(z)
        last_col, last_row = matrix.matrixWidth - 1, matrix.matrixHeight - 1
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": min(top_left.y, last_row),
                "maxTileRow": min(bottom_right.y, last_row),
                "minTileCol": min(top_left.x, last_col),
                "maxTileCol": min(bottom_right.x, last_col),
            }
        )
    return limits


def tms_document(matrix_set: str = WEB_MERCATOR) -> dict:
    """`matrix_set` as OGC Two Dimensional Tile Matrix Set 2.0 JSON, with the 1.0 members
    beside it: GDAL before 3.7 (Debian 12's 3.6) reads only the 1.0 encoding and fails on a
    2.0-only document, later clients read the 2.0 members."""
    tms = MATRIX_SETS[matrix_set].tms
    document = tms.model_dump(mode="json", exclude_none=True)
    matrices = document["tileMatrices"]
    west, south, east, north = tms.xy_bbox
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
