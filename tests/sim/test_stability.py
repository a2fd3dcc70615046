"""Pasquill classes from wind, sun and cloud, and the sun's elevation, checked by hand."""

import numpy as np
import pandas as pd
import pytest

from citytwin.sim.stability import pasquill_class, solar_elevation


def test_turners_table_by_day_and_night():
    wind = np.array([1.0, 2.5, 4.0, 5.5, 7.0, 1.5, 1.5, 3.0, 3.0, 3.0])
    sun = np.array([70, 70, 70, 70, 70, -5, -5, 20, 20, 50])
    cloud = np.array([0, 0, 0, 0, 0, 6, 2, 6, 2, 8])
    assert pasquill_class(wind, sun, cloud).tolist() == [
        "A",  # light wind, strong sun
        "A",  # A-B: the less stable
        "B",
        "C",
        "C",
        "E",  # night, light wind, cloudy
        "F",  # night, light wind, clear
        "D",  # slight sun weakened by cloud: neutral
        "C",  # slight sun, 3 m/s
        "D",  # overcast
    ]


def test_solar_elevation_by_hand():
    # London at the June solstice, solar noon: 90 − 51.5 + 23.44 = 61.9°
    noon = pd.DatetimeIndex([pd.Timestamp("2026-06-21 11:30")])  # hour 11:30-12:30 UTC
    assert solar_elevation(noon, 0.0, 51.5)[0] == pytest.approx(61.9, abs=0.3)
    night = pd.DatetimeIndex([pd.Timestamp("2026-11-02 23:00")])
    assert solar_elevation(night, 9.52, 47.14)[0] < -50
