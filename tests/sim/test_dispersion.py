"""The plume kernel against the analytic Gaussian plume, its mass conservation, and the FFT
convolution against a direct sum."""

import math

import numpy as np
import pytest
from scipy.signal import convolve

from citytwin.errors import InvalidParameter
from citytwin.sim.dispersion import (
    BRIGGS_URBAN,
    MIN_WIND_SPEED,
    PlumeParameters,
    briggs,
    disperse,
    plume_kernel,
)

CELL = 10.0
POINT = PlumeParameters(subcells=1, max_distance=1500.0)


# Briggs (1973) urban dispersion curves, Pasquill stability class D, as published (tabulated in
# Hanna, Briggs and Hosker, Handbook on Atmospheric Diffusion, 1982, and in Seinfeld and Pandis'
# chapter on dispersion): typed here, not taken from the code under test.
def sigma_y_d(x: float) -> float:
    return 0.16 * x * (1 + 0.0004 * x) ** -0.5


def sigma_z_d(x: float) -> float:
    """With the 1.5 m initial vertical spread of traffic (added in quadrature)."""
    return math.hypot(1.5, 0.14 * x * (1 + 0.0003 * x) ** -0.5)


def test_the_curves_are_briggs_urban_class_d():
    # By hand: 0.16 · 100 / √1.04 = 15.689 m; 0.14 · 1000 / √1.3 = 122.79 m.
    sigma_y, sigma_z = BRIGGS_URBAN["D"]
    assert briggs(np.array(100.0), sigma_y) == pytest.approx(15.6893, abs=1e-4)
    assert briggs(np.array(1000.0), sigma_z) == pytest.approx(122.788, abs=1e-3)
    for x in (10.0, 250.0, 2000.0):
        assert briggs(np.array(x), sigma_y) == pytest.approx(sigma_y_d(x))
        assert math.hypot(1.5, briggs(np.array(x), sigma_z)) == pytest.approx(sigma_z_d(x))


def test_the_other_classes_follow_briggs_urban():
    # σz at 1 km by hand: A-B 0.24·1000·√2 = 339.4 m; C 0.20·1000 = 200 m; E-F 0.08·1000/√2.5
    assert briggs(np.array(1000.0), BRIGGS_URBAN["A"][1]) == pytest.approx(339.41, abs=0.01)
    assert briggs(np.array(1000.0), BRIGGS_URBAN["C"][1]) == pytest.approx(200.0)
    assert briggs(np.array(1000.0), BRIGGS_URBAN["F"][1]) == pytest.approx(50.596, abs=1e-3)
    assert briggs(np.array(1000.0), BRIGGS_URBAN["E"][0]) == pytest.approx(110 / math.sqrt(1.4))
    # A stable night keeps a road's plume shallower, so the ground sees more of it.
    stable = plume_kernel(CELL, 2.0, 270.0, 1000.0, POINT, 20, "F")
    neutral = plume_kernel(CELL, 2.0, 270.0, 1000.0, POINT, 20, "D")
    assert stable[20, 30] > 2 * neutral[20, 30]


def analytic(downwind: float, crosswind: float, u: float, h: float) -> float:
    """Ground-level concentration (µg/m³) of 1 g/s from a ground source, reflected at the
    ground and capped by the mixing height: the textbook Gaussian plume."""
    sigma_y = sigma_y_d(downwind)
    sigma_z = sigma_z_d(downwind)
    if math.sqrt(math.pi / 2) * sigma_z < h:
        peak = 1 / (math.pi * u * sigma_y * sigma_z)
    else:
        peak = 1 / (math.sqrt(2 * math.pi) * u * sigma_y * h)
    return 1e6 * float(peak * math.exp(-0.5 * (crosswind / sigma_y) ** 2))


def test_point_source_matches_the_analytic_plume():
    # One 1 g/s source in a 301 x 301 grid, wind from the west at 3 m/s: the plume goes east.
    emissions = np.zeros((301, 301))
    emissions[150, 150] = 1.0
    kernel = plume_kernel(CELL, 3.0, 270.0, 400.0, POINT)
    field = disperse(emissions, kernel)
    for cells_east, cells_north in [(3, 0), (10, 1), (40, -3), (120, 5), (149, 0)]:
        expected = analytic(CELL * cells_east, CELL * cells_north, 3.0, 400.0)
        assert field[150 - cells_north, 150 + cells_east] == pytest.approx(expected, rel=1e-6)
    assert field[150, :140].max() < 1e-9  # nothing upwind but FFT round-off


def test_the_mixing_height_caps_the_plume_depth():
    emissions = np.zeros((1, 301))
    emissions[0, 0] = 1.0
    kernel = plume_kernel(CELL, 2.0, 270.0, 50.0, POINT)
    field = disperse(np.pad(emissions, ((150, 150), (0, 0))), kernel)
    far = analytic(CELL * 140, 0.0, 2.0, 50.0)
    assert field[150, 140] == pytest.approx(far, rel=1e-6)
    assert math.sqrt(math.pi / 2) * sigma_z_d(1400.0) > 50  # so the cap applies there


@pytest.mark.parametrize("subcells", [1, 3])
@pytest.mark.parametrize("wind_from", [270.0, 0.0])
def test_crosswind_flux_equals_the_emission(subcells, wind_from):
    """Mass conservation: u · Σ C Δy · D = Q through every crosswind line downwind."""
    p = PlumeParameters(subcells=subcells, max_distance=3000.0)
    u, h = 2.5, 800.0
    kernel = plume_kernel(CELL, u, wind_from, h, p)
    centre = kernel.shape[0] // 2
    for distance in (10, 50, 150, 280):
        line = kernel[:, centre + distance] if wind_from == 270.0 else kernel[centre + distance]
        s = np.array(CELL * distance)
        depth = min(math.sqrt(math.pi / 2) * sigma_z_d(float(s)), h)
        assert u * line.sum() * CELL * depth == pytest.approx(1.0, abs=2e-3)


def test_wind_from_the_north_carries_south():
    kernel = plume_kernel(CELL, 2.0, 0.0, 500.0, POINT)
    centre = kernel.shape[0] // 2
    assert kernel[centre + 20, centre] > 0  # rows run north to south
    assert kernel[centre - 20, centre] == 0


def test_fft_convolution_equals_the_direct_sum_and_conserves_totals():
    rng = np.random.default_rng(3)
    emissions = rng.random((2, 60, 70)) * (rng.random((2, 60, 70)) > 0.9)
    kernel = plume_kernel(CELL, 1.8, 233.0, 300.0, PlumeParameters(max_distance=150.0))
    fast = disperse(emissions, kernel)
    for index in range(2):
        direct = convolve(emissions[index], kernel, mode="same", method="direct") * 1e6
        np.testing.assert_allclose(fast[index], direct, rtol=1e-9, atol=1e-9)
    # Padded so the kernel never leaves the grid, the total is the emissions' times the kernel's.
    padded = np.pad(emissions[0], 20)
    spread = disperse(padded, kernel)
    assert spread.sum() == pytest.approx(padded.sum() * kernel.sum() * 1e6, rel=1e-9)


def test_calm_wind_is_lifted_to_the_minimum_and_bad_values_refused():
    calm = plume_kernel(CELL, 0.2, 90.0, 300.0, POINT)
    assert np.array_equal(calm, plume_kernel(CELL, MIN_WIND_SPEED, 90.0, 300.0, POINT))
    with pytest.raises(InvalidParameter, match="wind_speed"):
        plume_kernel(CELL, 0.0, 90.0, 300.0, POINT)
    with pytest.raises(InvalidParameter, match="mixing_height"):
        plume_kernel(CELL, 2.0, 90.0, -1.0, POINT)
