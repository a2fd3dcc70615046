"""The city grid of Vaduz: UTM zone, extents, cell counts, lon/lat centres, refusals."""

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from citytwin.core.grid import city_grid, utm_epsg
from citytwin.errors import InvalidParameter
from tests.city import demo_base


@pytest.fixture(scope="module")
def vaduz():
    return demo_base().city.boundary


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(9.52, 47.14, 32632), (151.21, -33.87, 32756), (-74.0, 40.7, 32618), (180.0, 0.0, 32660)],
)
def test_utm_zone_from_position(lon, lat, epsg):
    assert utm_epsg(lon, lat) == epsg


def test_vaduz_boundary_is_its_seven_parts(vaduz):
    assert vaduz.geom_type == "MultiPolygon"
    assert len(vaduz.geoms) == 7
    assert vaduz.bounds == pytest.approx((9.495076, 47.087057, 9.611678, 47.194039))


def test_100_m_grid_of_vaduz(vaduz):
    grid = city_grid(vaduz, 100)
    assert grid.epsg == 32632
    assert (grid.nx, grid.ny, grid.cells) == (90, 119, 10_710)
    assert grid.bounds == (537_500.0, 5_215_000.0, 546_500.0, 5_226_900.0)
    assert grid.geotransform == (537_500.0, 100.0, 0.0, 5_226_900.0, 0.0, -100.0)
    assert grid.x[[0, -1]].tolist() == [537_550.0, 546_450.0]
    assert grid.y[[0, -1]].tolist() == [5_226_850.0, 5_215_050.0]  # north to south
    # The grid holds the whole boundary, and one cell less on any side would not.
    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    projected = shapely.transform(vaduz, lambda xy: np.column_stack(to_utm.transform(*xy.T)))
    west, south, east, north = projected.bounds
    assert grid.bounds[0] <= west < grid.bounds[0] + 100
    assert grid.bounds[1] <= south < grid.bounds[1] + 100
    assert grid.bounds[2] - 100 < east <= grid.bounds[2]
    assert grid.bounds[3] - 100 < north <= grid.bounds[3]
    assert grid.bytes_per_step() == 42_840
    assert grid.bytes_per_step(variables=2, itemsize=8) == 171_360


def test_25_m_grid_nests_in_the_100_m_grid(vaduz):
    fine, coarse = city_grid(vaduz, cell_size=25), city_grid(vaduz, 100)
    assert (fine.nx, fine.ny, fine.cells) == (356, 475, 169_100)
    assert fine.bounds == (537_525.0, 5_215_000.0, 546_425.0, 5_226_875.0)
    assert coarse.bounds[0] <= fine.bounds[0] and fine.bounds[2] <= coarse.bounds[2]
    assert coarse.bounds[1] <= fine.bounds[1] and fine.bounds[3] <= coarse.bounds[3]


def test_cell_centres_in_lon_lat(vaduz):
    grid = city_grid(vaduz, 100)
    lon, lat = grid.lonlat
    assert lon.shape == lat.shape == (119, 90)
    # Back to UTM, every centre lands on its x/y within a micrometre.
    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(x, np.broadcast_to(grid.x, (119, 90)), atol=1e-6)
    np.testing.assert_allclose(y, np.broadcast_to(grid.y[:, None], (119, 90)), atol=1e-6)
    # The north-west and south-east centres, half a cell inside the grid's corners.
    assert (lon[0, 0], lat[0, 0]) == pytest.approx((9.495711, 47.194070), abs=1e-6)
    assert (lon[-1, -1], lat[-1, -1]) == pytest.approx((9.611977, 47.087325), abs=1e-6)


def test_an_absurd_grid_is_refused_naming_cell_size(vaduz):
    with pytest.raises(InvalidParameter) as error:
        city_grid(vaduz, cell_size=1)
    assert error.value.parameter == "cell_size"
    assert "8891 x 11835 grid of 105,224,985 cells (401 MiB" in error.value.message
    assert "over the limit of 4,000,000 cells" in error.value.message


def test_the_cell_limit_is_a_parameter(vaduz):
    assert city_grid(vaduz, 100, max_cells=10_710).cells == 10_710
    with pytest.raises(InvalidParameter, match="over the limit of 10,709 cells"):
        city_grid(vaduz, 100, max_cells=10_709)


@pytest.mark.parametrize("size", [0, -25, float("nan"), float("inf")])
def test_a_cell_size_must_be_positive_and_finite(vaduz, size):
    with pytest.raises(InvalidParameter) as error:
        city_grid(vaduz, cell_size=size)
    assert error.value.parameter == "cell_size"
