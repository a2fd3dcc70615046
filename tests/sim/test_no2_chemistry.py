"""NO2 from NOx: the ozone limiting method and Derwent & Middleton (1996), against values
worked out by hand from their formulas."""

import numpy as np
import pytest

from citytwin.sim.no2_chemistry import derwent_middleton, no2_added, nox_of_no2

PPB = 1.91  # µg/m³ of NO2 per ppb at 20 °C


def test_derwent_middleton_by_hand():
    # 100 ppb: A = 2, 1.236 − 6.696 + 7.732 − 2.608 = −0.336, NO2 = 2.166 + 33.6 = 35.766 ppb.
    assert derwent_middleton(np.array([100 * PPB]))[0] == pytest.approx(35.766 * PPB)
    # 200 ppb: A = 2.30103, bracket −0.204890, NO2 = 2.166 + 40.978 = 43.1442 ppb.
    assert derwent_middleton(np.array([200 * PPB]))[0] == pytest.approx(43.1442 * PPB, rel=1e-5)
    # Below 9 ppb the ratio at 9 ppb holds: (2.166 − 9 × (−0.48197)) / 9 = 0.72259.
    assert derwent_middleton(np.array([4 * PPB]))[0] == pytest.approx(4 * 0.72259 * PPB, rel=1e-4)
    # Above 1141.5 ppb a quarter is NO2 (the fit's ratio at its top is 0.24999).
    assert derwent_middleton(np.array([2000 * PPB]))[0] == pytest.approx(500 * PPB, rel=1e-4)
    assert derwent_middleton(np.array([0.0]))[0] == 0.0


def test_the_inverse_gives_back_the_nox():
    nox = np.array([5.0, 40.0, 191.0, 900.0])
    np.testing.assert_allclose(nox_of_no2(derwent_middleton(nox)), nox, rtol=1e-4)


def test_ozone_limited_where_ozone_is_measured():
    # 40 µg/m³ of NOx, a quarter primary: 10 of NO2 at once, and of the other 30 as much as
    # the ozone oxidises: 20 µg/m³ of O3 make 20 × 46/48 = 19.1667 of NO2; 60 of O3, all 30.
    got = no2_added(np.array([40.0, 40.0]), np.array([30.0, 30.0]), np.array([20.0, 60.0]), 0.25)
    np.testing.assert_allclose(got, [10 + 20 * 46 / 48, 40.0])


def test_derwent_middleton_on_top_of_the_background_where_no_ozone():
    # The background's 68.313 µg/m³ of NO2 is 100 ppb of NOx; 100 ppb more make 200 ppb,
    # whose NO2 is 43.1442 ppb: the roads add 7.3782 ppb.
    got = no2_added(np.array([100 * PPB, 0.0]), np.array([35.766 * PPB] * 2), np.nan, 0.25)
    np.testing.assert_allclose(got, [7.3782 * PPB, 0.0], rtol=1e-4, atol=1e-9)
