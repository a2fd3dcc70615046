"""The demo's sensors do not grade the model's homework: the generator of sensors/samples builds
them without any of citytwin's models, and its air truth is a formulation of its own."""

import ast
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.special import k0
from shapely.geometry import LineString, Point

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = (ROOT / "sensors" / "generate_samples.py", ROOT / "sensors" / "air_truth.py")


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, by its full dotted name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


@pytest.mark.parametrize("path", GENERATOR, ids=lambda path: path.name)
def test_the_generator_imports_nothing_of_citytwin(path):
    modules = imported_modules(path)
    assert not {name for name in modules if name.split(".")[0] == "citytwin"}
    # and nothing the model reads its physics from: only data and numerical libraries
    assert {name.split(".")[0] for name in modules} <= {
        "air_truth",
        "collections",
        "csv",
        "dataclasses",
        "geopandas",
        "heapq",
        "itertools",
        "json",
        "numpy",
        "pandas",
        "pathlib",
        "shapely",
        "yaml",
    }


@pytest.fixture(scope="module")
def truth():
    sys.path.insert(0, str(ROOT / "sensors"))
    try:
        import air_truth
    finally:
        sys.path.remove(str(ROOT / "sensors"))
    return air_truth


def test_measured_diurnal_shapes(truth):
    hours = np.arange(24) + 0.5
    weekday = truth.diurnal("nox", hours, np.zeros(24, dtype=int))
    # Madrid's background NOx on weekdays: a morning rush peak at 08-09 local, a lower evening
    # one, the afternoon minimum (the mixed layer at its deepest); mean 1 over the day.
    assert weekday.mean() == pytest.approx(1.0, abs=1e-12)
    assert int(hours[weekday.argmax()]) == 9
    assert weekday.max() == pytest.approx(2.09, abs=0.01)
    assert hours[weekday.argmin()] == 16.5 and weekday.min() == pytest.approx(0.32, abs=0.01)
    ozone = truth.diurnal("o3", hours, np.zeros(24, dtype=int))
    assert int(hours[ozone.argmax()]) == 15 and int(hours[ozone.argmin()]) == 8


def test_ozone_titration_is_limited_by_the_ozone_there_is(truth):
    """NO2 near a road: the primary share plus the NO ozone turns into NO2 over the transit
    time; O3 loses what it gives."""
    rng = np.random.default_rng(0)
    road = gpd.GeoDataFrame(
        {"highway": ["primary"], "lanes": [2.0]},
        geometry=[LineString([(0, -2000), (0, 2000)])],
        crs=2056,
    )
    stations = gpd.GeoDataFrame(
        {"houses": [0, 0]}, geometry=[Point(10, 0), Point(200, 0)], crs=2056
    )
    weights, kerb = truth.near_road_weights(stations, road)
    # The real distance to the kerb (centreline minus 3.5 m), not a cell's; along a straight
    # road the point kernel sums to the line source 2·K0(d/λ) / (2π·H0) (K0: modified Bessel
    # function), ~28 times more at 10 m than at 200 m.
    assert kerb == pytest.approx([6.5, 196.5])
    line = 2 * k0(10 / truth.LAMBDA) / (2 * np.pi * truth.H0)
    assert weights[0, 0] == pytest.approx(line, rel=0.01)
    assert weights[0, 0] / weights[1, 0] == pytest.approx(27.5, abs=0.5)
    hours = np.arange(48) % 24 + 0.5
    air = truth.simulate(
        stations,
        road,
        np.full((1, 48), 1500.0),
        hours,
        np.zeros(48, dtype=int),
        np.arange(48) / 24,
        rng,
    )
    no2, o3 = air["no2"].mean(axis=1), air["o3"].mean(axis=1)
    assert (air["no2"][0] > air["no2"][1]).all()
    assert no2 == pytest.approx([36.35, 14.36], abs=0.01)
    assert o3 == pytest.approx([34.70, 38.99], abs=0.01)  # the ozone the road's NO took
