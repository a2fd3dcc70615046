"""Background from declared background stations, α fitted without them, and its
leave-one-station-out skill, against figures worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from citytwin.core.grid import Grid
from citytwin.sim.air_calibration import (
    QUANTILE,
    STATIONS,
    Chemistry,
    background,
    calibrate,
    factor_note,
    ozone_background,
)
from citytwin.sim.emissions import POLLUTANTS

GRID = Grid(32632, 100.0, 537_500.0, 5_226_900.0, nx=4, ny=1)
TIMES = pd.date_range("2026-11-02", periods=2, freq="h")
# A (cell 0) is a background station; B, C, D sit where the road increment is 1, 2 and 3.
OBSERVED = {"A": [10.0, 20.0], "B": [12.0, 22.0], "C": [16.0, 24.0], "D": [16.0, 26.0]}
TYPES = {"A": "Urban Background", "B": "Roadside", "C": "Roadside", "D": "Kerbside"}


def means(site_types: bool = True) -> pd.DataFrame:
    lon, lat = GRID.lonlat
    rows = []
    for cell, (sensor, values) in enumerate(OBSERVED.items()):
        for time, value in zip(TIMES, values, strict=True):
            kind = TYPES[sensor] if site_types else None
            rows.append((sensor, lon[0, cell], lat[0, cell], time.tz_localize("UTC"), value, kind))
    return pd.DataFrame(rows, columns=["sensor", "lon", "lat", "time", "value", "site_type"])


def ample_ozone(frame: pd.DataFrame, level: float = 1000.0) -> Chemistry:
    """Ozone at every sensor and step, enough to oxidise all the NO: NO2 adds α × increment,
    as a passive pollutant would."""
    return Chemistry(frame.assign(value=level), 0.25)


def test_background_comes_from_declared_background_stations():
    got = background(means(), TIMES, 0.25)
    assert (got.source, got.sensors) == (STATIONS, ("A",))
    assert got.values.tolist() == [10.0, 20.0]
    fallback = background(means(site_types=False), TIMES, 0.25)
    assert (fallback.source, fallback.sensors) == (QUANTILE, ())
    assert fallback.values.tolist() == [11.5, 21.5]  # the lower quartile of 10, 12, 16, 16


def test_alpha_and_its_leave_one_out_skill_by_hand():
    frame = means()
    increment = np.broadcast_to(np.arange(4.0), (2, len(POLLUTANTS), 1, 4)).copy()
    backgrounds = {name: background(frame, TIMES, 0.25) for name in POLLUTANTS}
    observed = dict.fromkeys(POLLUTANTS, frame)
    fitted = calibrate(
        increment, backgrounds, observed, GRID, TIMES, 0.25, 3600, chemistry=ample_ozone(frame)
    )
    fit = fitted.report["no2"]
    # Σ r·(o − b) / Σ r² over B, C, D (A drives the background and is left out): 60 / 28
    assert fit["factor"] == pytest.approx(60 / 28)
    assert fit["n"] == 6
    assert fit["background"] == {"source": STATIONS, "sensors": ["A"]}
    assert "2.14 lies outside 0.5-2" in fit["factor_note"]
    assert fit["background_only"]["bias"] == pytest.approx(-26 / 6)
    # Left out in turn: α without B = 56/26, without C = 40/20, without D = 24/10; the
    # errors are then +0.1538 twice, -2 and 0, +1.2 twice.
    loso = fit["leave_one_out"]["methods"]
    errors = np.array([2 / 13, 2 / 13, -2.0, 0.0, 1.2, 1.2])
    assert loso["citytwin"]["overall"]["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert loso["citytwin"]["overall"]["bias"] == pytest.approx(errors.mean())
    assert loso["uncalibrated"]["overall"]["bias"] == pytest.approx(-14 / 6)
    assert [s["sensor"] for s in loso["citytwin"]["stations"]] == ["B", "C", "D"]
    # The nowcast's baselines on the same station-steps: B's mean of the others is A, C, D
    assert loso["mean_of_others"]["overall"]["n"] == 6
    assert fit["leave_one_out"]["averaging"] == "hour"
    assert fitted.report["pm25"]["leave_one_out"]["averaging"] == "day"


def test_factor_notes_only_outside_half_to_double():
    assert factor_note(1.3) is None
    assert "overstates the road increment at the sensors 4.0-fold" in factor_note(0.25)
    assert "understates the road increment at the sensors 8.0-fold" in factor_note(8.0)


def test_without_declared_stations_each_station_is_left_out_of_background_and_alpha():
    """No site types: the background is the lower quartile of all sensors, and left one out,
    both the quartile and α are fitted without the held station."""
    frame = means(site_types=False)
    increment = np.broadcast_to(np.arange(4.0), (2, len(POLLUTANTS), 1, 4)).copy()
    backgrounds = {name: background(frame, TIMES, 0.25) for name in POLLUTANTS}
    fit = calibrate(
        increment,
        backgrounds,
        dict.fromkeys(POLLUTANTS, frame),
        GRID,
        TIMES,
        0.25,
        3600,
        chemistry=ample_ozone(frame),
    ).report["no2"]
    # In sample, all four calibrate on b = 11.5, 21.5: Σ r·(o − b) = 0.5·2 + 2·(4.5 + 2.5)
    # + 3·(4.5 + 4.5) = 42 over Σ r² = 28.
    assert (fit["factor"], fit["n"]) == (pytest.approx(1.5), 8)
    assert fit["background"] == {"source": QUANTILE, "sensors": []}
    # Held out: A has b = 14, 23 (quartiles of B, C, D) and α = 18/28, its estimate b + α·0;
    # B has b = 13, 22 and α = 31/26; C has b = 11, 21 and α = 32/20; D b = 11, 21, α = 18/10.
    errors = np.array([4.0, 3.0, 1 + 31 / 26, 31 / 26, -1.8, 0.2, 0.4, 0.4])
    loso = fit["leave_one_out"]["methods"]
    assert loso["citytwin"]["overall"]["bias"] == pytest.approx(errors.mean())
    assert loso["citytwin"]["overall"]["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    # The background alone, held out: A's 14, 23 against 10, 20 (+4, +3), B's 13, 22 (+1, 0),
    # C's 11, 21 (-5, -3) and D's 11, 21 (-5, -5).
    assert loso["background_only"]["overall"]["bias"] == pytest.approx(-10 / 8)
    assert [s["sensor"] for s in loso["citytwin"]["stations"]] == ["A", "B", "C", "D"]


def test_ozone_background_is_the_high_side_and_leaves_the_held_station_out():
    frame = means(site_types=False).assign(value=[60.0, 70.0, 50.0, 60.0, 40.0, 50.0, 20.0, 30.0])
    # The upper quartile of 60, 50, 40, 20 is 52.5; of 70, 60, 50, 30, 62.5.
    assert ozone_background(frame, TIMES, 0.25).tolist() == [52.5, 62.5]
    # Without A: of 50, 40, 20, 45; of 60, 50, 30, 55.
    assert ozone_background(frame, TIMES, 0.25, without="A").tolist() == [45.0, 55.0]
    # Declared background stations: their mean (A alone).
    assert ozone_background(means().assign(value=[60.0, 70.0] * 4), TIMES, 0.25).tolist() == [
        60.0,
        70.0,
    ]
    assert np.isnan(ozone_background(None, TIMES, 0.25)).all()


def test_no2_is_fitted_through_the_chemistry():
    """Ozone limits the NO2 the roads add: with 4.8 µg/m³ of O3 (4.6 of NO2 at most) and a
    quarter primary, the NOx increments r = 1, 2, 3 at B, C, D add α·r/4 + min(3α·r/4, 4.6)
    of NO2 at α; above the background A they measure 2, 2; 6, 4; 6, 6."""
    frame = means()
    increment = np.broadcast_to(np.arange(4.0), (2, len(POLLUTANTS), 1, 4)).copy()
    backgrounds = {name: background(frame, TIMES, 0.25) for name in POLLUTANTS}
    chemistry = ample_ozone(frame, level=4.8)
    observed = dict.fromkeys(POLLUTANTS, frame)
    fit = calibrate(
        increment, backgrounds, observed, GRID, TIMES, 0.25, 3600, chemistry=chemistry
    ).report["no2"]
    # For 2.04 < α < 3.07 (4.6 / 2.25 and 4.6 / 1.5) only D (r = 3) is limited: B adds α,
    # C 2α, D 0.75α + 4.6, and d/dα of 2(α − 2)² + (2α − 6)² + (2α − 4)² + 2(0.75α − 1.4)²
    # = 22.25α − 52.2 vanishes at α = 2.3461, inside that range.
    assert fit["factor"] == pytest.approx(52.2 / 22.25, rel=1e-6)
    assert fit["chemistry"]["hours"] == {"ozone-limiting-method": 2, "derwent-middleton-1996": 0}
    assert fit["chemistry"]["primary_no2_share"] == 0.25
