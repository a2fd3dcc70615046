"""Near-source treatment: a receptor within 100 m of a road sees it at its real distance."""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import LineString

from citytwin.core.grid import Grid
from citytwin.sim.dispersion import BRIGGS_URBAN, PlumeParameters, briggs
from citytwin.sim.meteorology import Meteorology
from citytwin.sim.near_source import receptor_correction

GRID = Grid(32632, 100.0, 500_000.0, 5_200_000.0, 20, 20)
TIMES = pd.DatetimeIndex(["2026-11-03T08:00:00"])
# A straight north-south road through the middle of a column of cells (x = 501,050 m).
ROAD = gpd.GeoDataFrame(
    geometry=[LineString([(501_050.0, 5_198_100.0), (501_050.0, 5_199_900.0)])], crs=32632
)
RATE = 0.5  # g/s per km: a busy road's NOx
PLUME = PlumeParameters()


def weather(wind_from: float) -> Meteorology:
    return Meteorology(np.array([2.0]), np.array([wind_from]), np.array([5.0]), np.array([600.0]))


def correction(x: list[float], wind_from: float, known: bool) -> np.ndarray:
    """The near-source correction at receptors (x, y = 5,199,000 m) for one hour."""
    lon, lat = Transformer.from_crs(32632, 4326, always_xy=True).transform(
        x, [5_199_000.0] * len(x)
    )
    receptors = pd.DataFrame({"lon": lon, "lat": lat, "time": pd.Timestamp(TIMES[0], tz="UTC")})
    return receptor_correction(
        receptors,
        ROAD,
        np.full((1, 1, 1), RATE),
        GRID,
        TIMES,
        weather(wind_from),
        np.array(["D"]),
        PLUME,
        np.array([known]),
    )[:, 0]


def test_a_receptor_downwind_of_a_road_sees_the_line_source_at_its_real_distance():
    # 12 m east and 12 m west of the road lie in the same grid cell: the grid gives both the
    # same value, so the difference of their corrections is the exact line source alone.
    east, west = correction([501_062.0, 501_038.0], 270.0, known=True)  # wind from the west
    sigma_z = math.hypot(PLUME.initial_sigma_z, float(briggs(np.array(12.0), BRIGGS_URBAN["D"][1])))
    line = RATE / 1000 / (2.0 * math.sqrt(math.pi / 2) * sigma_z) * 1e6  # q / (u·D), µg/m³
    assert east - west == pytest.approx(line, rel=0.02)
    assert line == pytest.approx(88.66, abs=0.01)


def test_without_a_measured_direction_the_near_field_is_the_same_on_both_sides():
    east, west = correction([501_062.0, 501_038.0], 270.0, known=False)
    assert east == pytest.approx(west, rel=1e-9)
    nearer, farther = correction([501_056.0, 501_092.0], 270.0, known=False)
    # All three lie in the road's own cell, one value on the grid: at 6 m a receptor sees
    # 29 µg/m³ more than the cell, at 42 m 30 less, at 12 m about what the cell holds.
    assert [nearer, east, farther] == pytest.approx([28.90, -0.49, -30.33], abs=0.01)


def test_receptors_beyond_the_near_distance_keep_the_grids_value():
    assert correction([501_160.0, 501_500.0], 270.0, known=True).tolist() == [0.0, 0.0]
