"""Pure raster rendering: colours at known values, transparency, UTM → WebMercator sampling."""

import io

import morecantile
import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer

from citytwin.errors import InvalidParameter
from citytwin.tiles.raster import (
    colorize,
    colormap,
    legend_png,
    legend_stops,
    parse_rescale,
    render_tile,
    sample_grid,
    tile_xy_bounds,
    value_range,
)
from citytwin.tiles.tile_matrix import Tile
from tests.sim.cases import GRID

TM = morecantile.tms.get("WebMercatorQuad")


def decode(body: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(body))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", image.size)
    return np.asarray(image)


def tile_at(lon: float, lat: float, z: int) -> Tile:
    found = TM.tile(lon, lat, z)
    return Tile(found.z, found.x, found.y)


@pytest.mark.parametrize(
    ("name", "value", "rgb"),
    [
        ("viridis", 0.0, (0x44, 0x01, 0x54)),
        ("viridis", 1.0, (0xFD, 0xE7, 0x25)),
        ("viridis", -5.0, (0x44, 0x01, 0x54)),  # clipped below
        ("viridis", 9.0, (0xFD, 0xE7, 0x25)),  # clipped above
        ("magma", 1.0, (0xFC, 0xFD, 0xBF)),
        ("inferno", 0.0, (0x00, 0x00, 0x04)),
        ("plasma", 0.0, (0x0D, 0x08, 0x87)),
        ("cividis", 0.0, (0x00, 0x22, 0x4E)),
        ("RdBu", 0.0, (0x67, 0x00, 0x1F)),
        ("RdBu", 1.0, (0x05, 0x30, 0x61)),
        ("RdBu_r", 0.0, (0x05, 0x30, 0x61)),
        ("viridis_r", 0.0, (0xFD, 0xE7, 0x25)),
    ],
)
def test_colours_at_known_values(name, value, rgb):
    rgba = colorize(np.array([value]), colormap(name), 0.0, 1.0)
    assert tuple(rgba[0]) == (*rgb, 255)


def test_the_middle_of_viridis_and_rdbu():
    # The middle stop lands on lut index 127.5: between two entries, within 2/255 of it.
    middle = colorize(np.array([0.5]), colormap("viridis"), 0.0, 1.0)[0, :3].astype(int)
    assert np.abs(middle - (0x21, 0x90, 0x8C)).max() <= 2
    white = colorize(np.array([10.0]), colormap("RdBu"), 0.0, 20.0)[0, :3].astype(int)
    assert np.abs(white - (0xF7, 0xF7, 0xF7)).max() <= 2


def test_nan_is_fully_transparent():
    rgba = colorize(np.array([[np.nan, 3.0], [np.inf, 1.0]]), colormap("viridis"), 1.0, 3.0)
    assert rgba[0, 0].tolist() == [0, 0, 0, 0]
    assert rgba[1, 0].tolist() == [0, 0, 0, 0]
    assert rgba[0, 1].tolist() == [0xFD, 0xE7, 0x25, 255]
    assert rgba[1, 1].tolist() == [0x44, 0x01, 0x54, 255]


def test_values_nearer_zero_than_the_threshold_are_transparent():
    rgba = colorize(np.array([-3.0, -1.0, 0.5, 2.0, 3.0]), colormap("RdBu_r"), -3.0, 3.0, 2.0)
    assert rgba[:, 3].tolist() == [255, 0, 0, 255, 255]
    assert (rgba[1:3] == 0).all()
    assert rgba[0, :3].tolist() == [0x05, 0x30, 0x61]  # RdBu_r's blue end, unchanged


def test_unknown_colormap_and_bad_rescale_name_the_parameter():
    with pytest.raises(InvalidParameter) as error:
        colormap("jet")
    assert error.value.parameter == "colormap" and "viridis" in error.value.message
    for text in ("1", "a,b", "1,2,3", "5,5", "6,5", "nan,1", "1,inf"):
        with pytest.raises(InvalidParameter) as error:
            parse_rescale(text)
        assert error.value.parameter == "rescale"
    assert parse_rescale("-1.5, 20") == (-1.5, 20.0)
    assert parse_rescale(None) is None


def test_value_range_of_degenerate_layers():
    assert value_range(float("nan"), float("nan")) == (0.0, 1.0)
    assert value_range(4.0, 4.0) == (3.5, 4.5)
    assert value_range(1.0, 2.0) == (1.0, 2.0)


def test_each_pixel_shows_the_cell_under_its_centre():
    """Every pixel's cell, from the tile's mercator bounds, agrees with an independent
    lon/lat route (pixel centre → EPSG:4326 → UTM) over a tile straddling the grid edge."""
    lon, lat = GRID.lonlat
    tile = tile_at(float(lon[0, 0]), float(lat[0, 0]), 16)  # the north-west corner
    sampling = sample_grid(GRID, tile_xy_bounds(tile))
    west, south, east, north = tile.bounds
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    (left, right), (bottom, top) = to_merc.transform([west, east], [south, north])
    centres = (np.arange(256) + 0.5) / 256
    mx, my = np.meshgrid(left + centres * (right - left), top - centres * (top - bottom))
    plon, plat = Transformer.from_crs(3857, 4326, always_xy=True).transform(mx, my)
    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(plon, plat)
    col, row = np.floor((x - 537_500) / 100), np.floor((5_226_900 - y) / 100)
    inside = (col >= 0) & (col < 10) & (row >= 0) & (row < 8)
    assert inside.any() and not inside.all()
    np.testing.assert_array_equal(sampling.inside, inside)
    np.testing.assert_array_equal(sampling.cols[inside], col[inside])
    np.testing.assert_array_equal(sampling.rows[inside], row[inside])


def test_a_tile_inside_one_cell_has_that_cells_colour():
    lon, lat = GRID.lonlat
    values = np.arange(80, dtype=float).reshape(8, 10)  # cell (r, c) holds 10 r + c
    tile = tile_at(float(lon[3, 4]), float(lat[3, 4]), 20)  # ~26 m, inside the 100 m cell
    sampling = sample_grid(GRID, tile_xy_bounds(tile))
    assert sampling.window == (slice(3, 4), slice(4, 5))
    rows, cols = sampling.window
    pixels = decode(render_tile(values[rows, cols], sampling, colormap("RdBu"), 0.0, 68.0))
    assert pixels.shape == (256, 256, 4)
    # 34 is the middle of 0..68: RdBu's white #F7F7F7 (within 2/255), the same in every pixel.
    assert (pixels == pixels[0, 0]).all() and pixels[0, 0, 3] == 255
    assert np.abs(pixels[0, 0, :3].astype(int) - 0xF7).max() <= 2


def test_pixels_off_the_grid_and_on_nan_are_transparent():
    lon, lat = GRID.lonlat
    # Odd columns at the top of the scale, even ones at the bottom: two known colours.
    values = np.tile(np.arange(10) % 2 * 79.0, (8, 1))
    values[0, 0] = np.nan
    tile = tile_at(float(lon[0, 0]), float(lat[0, 0]), 16)
    sampling = sample_grid(GRID, tile_xy_bounds(tile))
    rows, cols = sampling.window
    pixels = decode(render_tile(values[rows, cols], sampling, colormap("viridis"), 0.0, 79.0))
    alpha = pixels[..., 3]
    on_nan = sampling.inside & (sampling.rows == 0) & (sampling.cols == 0)
    assert on_nan.any()
    np.testing.assert_array_equal(alpha == 255, sampling.inside & ~on_nan)
    assert (pixels[alpha == 0] == 0).all()
    # Every shown pixel has its own cell's colour: viridis' #FDE725 on odd columns, #440154 on
    # even ones (matplotlib's table).
    shown = sampling.inside & ~on_nan
    odd = shown & (sampling.cols % 2 == 1)
    assert odd.any() and (shown & ~odd).any()
    assert (pixels[odd] == [0xFD, 0xE7, 0x25, 255]).all()
    assert (pixels[shown & ~odd] == [0x44, 0x01, 0x54, 255]).all()


def test_a_tile_far_away_is_empty():
    sampling = sample_grid(GRID, tile_xy_bounds(Tile(10, 0, 0)))
    assert sampling.window is None
    pixels = decode(render_tile(None, sampling, colormap("viridis"), 0.0, 1.0))
    assert (pixels == 0).all()


def test_legend():
    bar = decode(legend_png(colormap("viridis")))
    assert bar.shape == (16, 256, 4)
    assert bar[0, 0].tolist() == [0x44, 0x01, 0x54, 255]
    assert bar[15, 255].tolist() == [0xFD, 0xE7, 0x25, 255]
    stops = legend_stops(colormap("magma"), 10.0, 20.0)
    assert len(stops) == 11
    assert stops[0] == [10.0, "#000004"] and stops[-1] == [20.0, "#fcfdbf"]
    assert [value for value, _ in stops] == pytest.approx(np.linspace(10, 20, 11))
