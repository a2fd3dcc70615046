"""Leave-one-station-out estimates and the kriging nowcast's declared fallbacks."""

import numpy as np
import pandas as pd
import pytest

from citytwin.sim.cross_validation import (
    METHODS,
    leave_one_out,
    mean_of_others,
    nearest,
    site_type_hour,
)
from citytwin.sim.kriging import (
    FEW_STATIONS,
    NO_METADATA,
    ONE_SITE_TYPE,
    KrigingParameters,
    Points,
    fallback_steps,
    krige_steps,
)
from citytwin.sim.site_types import site_class, traffic_indicator

TIMES = pd.date_range("2026-11-02", periods=2, freq="h")
# Four stations on a line 1 km apart; the second and fourth are traffic sites.
LINE = Points(
    np.array([0.0, 1000.0, 2000.0, 3000.0]),
    np.zeros(4),
    np.array([[0.0], [1.0], [0.0], [1.0]]),
)
VALUES = np.array([[10.0, 40.0, 20.0, 50.0], [12.0, np.nan, 22.0, 60.0]])


def test_site_types_of_the_networks():
    assert site_class("Kerbside") == "traffic"
    assert site_class("Urbana  tráfico") == "traffic"
    assert site_class("Urban Background") == "background"
    assert site_class("Suburbana") == "background"
    assert site_class("Industrial") == "industrial"
    assert site_class("mobile") is None
    assert site_class(None) is None
    assert np.array_equal(
        traffic_indicator(["Roadside", "Suburban", None]), [1.0, 0.0, np.nan], equal_nan=True
    )


def test_baselines_hold_out_one_station():
    frame = leave_one_out(VALUES, TIMES, LINE, ["a", "b", "c", "d"], METHODS)
    # b did not report at the second step: seven station-steps
    assert len(frame) == 7
    a = frame[frame["sensor"] == "a"]
    assert a["mean_of_others"].tolist() == pytest.approx([110 / 3, 41.0])
    assert a["nearest"].tolist() == [40.0, 22.0]  # b is nearest; at the second step, c
    assert a["site_type_hour"].tolist() == [20.0, 22.0]  # the other background station
    d = frame[frame["sensor"] == "d"]
    assert d["site_type_hour"].tolist() == [40.0, pytest.approx(17.0)]  # no traffic site: all
    assert d["nearest"].tolist() == [20.0, 22.0]
    assert set(frame.columns) == {"sensor", "time", "observed", *METHODS}


def test_points_methods_directly():
    target = LINE.take(np.array([3]))
    others = LINE.take(np.arange(3))
    assert mean_of_others(VALUES[:, :3], TIMES, others, target).tolist() == [
        pytest.approx(70 / 3),
        17.0,
    ]
    assert nearest(VALUES[:, :3], TIMES, others, target).tolist() == [20.0, 22.0]
    assert site_type_hour(VALUES[:, :3], TIMES, others, target).tolist() == [40.0, 17.0]


def test_kriging_reproduces_a_field_that_is_all_drift():
    # Six stations: background 20, traffic 50, everywhere; a traffic target gets 50.
    stations = Points(
        np.array([0.0, 900.0, 2000.0, 3100.0, 4000.0, 5200.0]),
        np.array([0.0, 800.0, 100.0, 900.0, 0.0, 700.0]),
        np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0]]),
    )
    values = np.where(stations.drift[:, 0] == 1, 50.0, 20.0)[None, :].repeat(3, axis=0)
    targets = Points(np.array([2500.0, 2500.0]), np.array([400.0, 400.0]), np.array([[1.0], [0.0]]))
    times = pd.date_range("2026-11-02", periods=3, freq="h")
    estimate, variance, used = krige_steps(values, times, stations, targets, KrigingParameters())
    assert estimate == pytest.approx(np.array([[50.0, 20.0]] * 3), abs=1e-6)
    assert np.all(variance >= 0)
    assert all(FEW_STATIONS not in names for names in used)


def test_fallbacks_are_declared_per_step():
    stations = Points(
        np.array([0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]),
        np.array([0.0, 500.0, 0.0, 500.0, 0.0, 500.0]),
        np.array([[0.0], [0.0], [0.0], [0.0], [0.0], [np.nan]]),
    )
    values = np.array(
        [
            [10.0, 11.0, 12.0, 13.0, 14.0, np.nan],  # one site type only
            [10.0, 11.0, 12.0, 13.0, 14.0, 15.0],  # a station without metadata
            [10.0, np.nan, np.nan, np.nan, 14.0, np.nan],  # two stations
        ]
    )
    times = pd.date_range("2026-11-02", periods=3, freq="h")
    target = Points(np.array([500.0]), np.array([0.0]), np.array([[0.0]]))
    estimate, _, used = krige_steps(values, times, stations, target, KrigingParameters())
    assert used[0] == [ONE_SITE_TYPE]
    assert used[1] == [NO_METADATA]
    assert used[2] == sorted([FEW_STATIONS, ONE_SITE_TYPE])
    assert estimate[2, 0] == pytest.approx(12.0)  # the mean of the two
    record = fallback_steps(times, used)
    assert record[FEW_STATIONS] == ["2026-11-02T02:00:00Z"]
    assert record[ONE_SITE_TYPE] == ["2026-11-02T00:00:00Z", "2026-11-02T02:00:00Z"]
