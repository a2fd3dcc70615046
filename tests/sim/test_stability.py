"""Pasquill classes from wind, sun and cloud, and the sun's elevation, checked by hand."""

import numpy as np
import pandas as pd
import pytest

from citytwin.sim.stability import needs_cloud, pasquill_class, solar_elevation


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


def test_measured_radiation_sets_the_insolation_by_day():
    wind = np.array([1.0, 1.0, 4.0, 4.0, 7.0, 1.0, 1.5, 3.0])
    sun = np.array([30, 30, 30, 30, 30, 30, -5, 20])
    cloud = np.array([6, 6, 6, 6, 6, 8, 2, 6])
    radiation = np.array([950, 700, 500, 100, 950, 700, np.nan, np.nan])
    assert pasquill_class(wind, sun, cloud, radiation).tolist() == [
        "A",  # ≥ 925 W/m²: strong, though the sun is low and the sky 6/8 cloudy
        "A",  # 675-925: moderate, light wind
        "C",  # 175-675: slight, 4 m/s
        "D",  # below 175 W/m² by day: neutral
        "C",  # strong sun, 7 m/s
        "A",  # an overcast sky that still lets 700 W/m² through: the measurement wins
        "F",  # night: the cloud decides, as without radiation
        "D",  # no radiation measured: elevation and cloud, as before
    ]
    assert needs_cloud(sun, radiation).tolist() == [False] * 6 + [True, True]


def test_solar_elevation_by_hand():
    # London at the June solstice, solar noon: 90 − 51.5 + 23.44 = 61.9°
    noon = pd.DatetimeIndex([pd.Timestamp("2026-06-21 11:30")])  # hour 11:30-12:30 UTC
    assert solar_elevation(noon, 0.0, 51.5)[0] == pytest.approx(61.9, abs=0.3)
    night = pd.DatetimeIndex([pd.Timestamp("2026-11-02 23:00")])
    assert solar_elevation(night, 9.52, 47.14)[0] < -50
