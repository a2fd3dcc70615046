"""Raster (PNG) tiles of a layer grid: colormaps, rescaling, UTM → WebMercator sampling.

Pure: numpy arrays and grids in, PNG bytes out. The router reads the layer; this module only
decides which grid cell each pixel shows and what colour that is.
"""

import io
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from pyproj import Transformer

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.tiles.tile_matrix import Tile

TILE_SIZE = 256
LUT_SIZE = 256
# Evenly spaced stops sampled from matplotlib's colormaps (viridis & co. from van der Walt and
# Smith's tables, RdBu from ColorBrewer), interpolated linearly: within a few 1/255 of the
# originals, without a plotting library on the server.
_STOPS = {
    "viridis": "440154 472d7b 3b528b 2c728e 21908c 27ad81 5dc863 aadc32 fde725",
    "magma": "000004 1d1147 51127c 822681 b63679 e65164 fb8861 fec287 fcfdbf",
    "inferno": "000004 1f0c48 550f6d 88226a ba3655 e35932 f98c0a f9c932 fcffa4",
    "plasma": "0d0887 4c02a1 7e03a8 a92395 cc4678 e56b5d f89441 fdc328 f0f921",
    "cividis": "00224e 123570 3b496c 575d6d 707173 8a8779 a69d75 c4b56c e4cf5b fee838",
    "RdBu": "67001f b2182b d6604d f4a582 fddbc7 f7f7f7 d1e5f0 92c5de 4393c3 2166ac 053061",
}


def _rgb(stops: str) -> np.ndarray:
    return np.array([[int(s[i : i + 2], 16) for i in (0, 2, 4)] for s in stops.split()], float)


def _lut(stops: np.ndarray) -> np.ndarray:
    at = np.linspace(0, 1, len(stops))
    where = np.linspace(0, 1, LUT_SIZE)
    channels = [np.interp(where, at, stops[:, c]) for c in range(3)]
    return np.round(np.column_stack(channels)).astype(np.uint8)


_LUTS = {name: _lut(_rgb(stops)) for name, stops in _STOPS.items()}
_LUTS |= {f"{name}_r": lut[::-1].copy() for name, lut in list(_LUTS.items())}
COLORMAPS = tuple(sorted(_LUTS))


def colormap(name: str) -> np.ndarray:
    """The (256, 3) uint8 lookup table of a named colormap; InvalidParameter `colormap`."""
    try:
        return _LUTS[name]
    except KeyError:
        raise InvalidParameter(
            "colormap", f"{name!r} is not a colormap (choose one of: {', '.join(COLORMAPS)})"
        ) from None


def parse_rescale(text: str | None) -> tuple[float, float] | None:
    """`min,max` as two finite numbers with min < max; InvalidParameter `rescale`."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise InvalidParameter("rescale", f"{text!r} is not 'min,max' (two numbers)") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidParameter("rescale", f"{text!r} must be two finite numbers")
    if low >= high:
        raise InvalidParameter("rescale", f"min {low:g} must be below max {high:g}")
    return low, high


def value_range(low: float, high: float) -> tuple[float, float]:
    """A usable (min, max) from a variable's extremes: all-NaN → (0, 1), constant → ±0.5."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    if low >= high:
        return low - 0.5, high + 0.5
    return low, high


def colorize(
    values: np.ndarray, lut: np.ndarray, low: float, high: float, threshold: float = 0.0
) -> np.ndarray:
    """RGBA uint8 of `values` through `lut` over [low, high] (clipped); NaN and values nearer
    zero than `threshold` fully transparent."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    # Nothing to see where a concentration is negligible or a difference is about nil: the
    # basemap shows through instead of an opaque rectangle over the whole grid.
    if threshold > 0:
        finite &= np.abs(np.where(finite, values, 0.0)) >= threshold
    scaled = np.clip((np.where(finite, values, low) - low) / (high - low), 0.0, 1.0)
    index = np.round(scaled * (len(lut) - 1)).astype(np.intp)
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    rgba[..., :3] = lut[index]
    rgba[..., 3] = np.where(finite, 255, 0)
    rgba[~finite, :3] = 0
    return rgba


def encode_png(rgba: np.ndarray) -> bytes:
    """An RGBA PNG of an (h, w, 4) uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def tile_xy_bounds(tile: Tile) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a tile in EPSG:3857 metres."""
    return tile.xy_bounds


@lru_cache(maxsize=16)
def _from_mercator(epsg: int) -> Transformer:
    return Transformer.from_crs(3857, epsg, always_xy=True)


@dataclass(frozen=True)
class Sampling:
    """Which grid cell (row, col) each pixel of a tile shows; `inside` False off the grid."""

    rows: np.ndarray
    cols: np.ndarray
    inside: np.ndarray

    @property
    def window(self) -> tuple[slice, slice] | None:
        """The smallest (rows, cols) block of the grid the tile needs, None if it needs none."""
        if not self.inside.any():
            return None
        rows, cols = self.rows[self.inside], self.cols[self.inside]
        return slice(int(rows.min()), int(rows.max()) + 1), slice(
            int(cols.min()), int(cols.max()) + 1
        )


def sample_grid(
    grid: Grid, xy_bounds: tuple[float, float, float, float], size: int = TILE_SIZE
) -> Sampling:
    """Nearest-neighbour cells of `grid` under the pixel centres of a WebMercator tile."""
    left, bottom, right, top = xy_bounds
    centres = (np.arange(size) + 0.5) / size
    mx, my = np.meshgrid(left + centres * (right - left), top - centres * (top - bottom))
    x, y = _from_mercator(grid.epsg).transform(mx, my)
    col = np.floor((np.asarray(x) - grid.west) / grid.cell_size)
    row = np.floor((grid.north - np.asarray(y)) / grid.cell_size)
    inside = np.isfinite(col) & np.isfinite(row)
    inside &= (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)
    rows = np.where(inside, row, 0).astype(np.intp)
    cols = np.where(inside, col, 0).astype(np.intp)
    return Sampling(rows, cols, inside)


def render_tile(
    block: np.ndarray | None,
    sampling: Sampling,
    lut: np.ndarray,
    low: float,
    high: float,
    threshold: float = 0.0,
) -> bytes:
    """The PNG of a tile from `block`, the grid values over `sampling.window`."""
    values = np.full(sampling.rows.shape, np.nan)
    window = sampling.window
    if window is not None and block is not None:
        rows = sampling.rows[sampling.inside] - window[0].start
        cols = sampling.cols[sampling.inside] - window[1].start
        values[sampling.inside] = block[rows, cols]
    return encode_png(colorize(values, lut, low, high, threshold))


def legend_png(lut: np.ndarray, width: int = 256, height: int = 16) -> bytes:
    """A horizontal colorbar, low values on the left."""
    ramp = np.linspace(0.0, 1.0, width)[np.newaxis, :].repeat(height, axis=0)
    return encode_png(colorize(ramp, lut, 0.0, 1.0))


def legend_stops(lut: np.ndarray, low: float, high: float, count: int = 11) -> list[list]:
    """`count` evenly spaced [value, "#rrggbb"] pairs from low to high."""
    values = np.linspace(low, high, count)
    colours = colorize(values, lut, low, high)[:, :3]
    return [
        [float(value), "#" + bytes(colour.tolist()).hex()]
        for value, colour in zip(values, colours, strict=True)
    ]
