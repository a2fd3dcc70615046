"""Leave-one-station-out estimates and the kriging nowcast's declared fallbacks."""

import gstools as gs
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
    WINSORIZED,
    KrigingParameters,
    Points,
    fallback_steps,
    krige_steps,
    loo_errors,
    prepared_steps,
    winsorize,
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


# Eight stations over 6 km, every other one a traffic site.
PLANE = Points(
    np.array([0.0, 1500.0, 3000.0, 4500.0, 6000.0, 800.0, 2600.0, 5200.0]),
    np.array([0.0, 900.0, 200.0, 1100.0, 300.0, 3000.0, 3600.0, 3300.0]),
    np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [0.0], [1.0], [0.0]]),
)


def _plane_values(outlier: float) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """48 hours of a smooth background, +15 at traffic sites, noise, and `outlier` added to
    the first station (a street canyon)."""
    times = pd.date_range("2026-11-02", periods=48, freq="h")
    noise = np.random.default_rng(7).normal(0.0, 2.0, (48, 8))
    cycle = 10.0 * np.sin(np.arange(48) * np.pi / 12)[:, None]
    values = 25.0 + cycle + 0.002 * PLANE.x + 15.0 * PLANE.drift[:, 0] + noise
    values[:, 0] += outlier
    return values, times


def test_winsorize_clips_the_station_far_from_its_drift():
    one_type = Points(np.arange(6) * 1000.0, np.zeros(6), np.zeros((6, 1)))
    clipped = winsorize(np.array([[10.0, 11, 12, 13, 14, 100]]), one_type, 2.0, 5)
    assert clipped[0] == pytest.approx([10.471, 11, 12, 13, 14, 19.366], abs=1e-3)
    typed = Points(np.arange(6) * 1000.0, np.zeros(6), np.array([[0.0], [1], [0], [1], [0], [1]]))
    clipped = winsorize(np.array([[10.0, 30, 12, 32, 14, 100]]), typed, 2.0, 5)
    assert clipped[0] == pytest.approx([10, 30, 12, 32, 14, 63.038], abs=1e-3)
    few = np.array([[10.0, 100.0, np.nan, np.nan, np.nan, 12.0]])
    assert np.array_equal(winsorize(few, one_type, 2.0, 5), few, equal_nan=True)


def test_closed_form_leave_one_out_is_kriging_without_the_station():
    values, _ = _plane_values(0.0)
    model = gs.Exponential(dim=2, var=30.0, len_scale=2500.0, nugget=4.0)
    errors = loo_errors(values[:1], PLANE, [model])
    for held in (0, 3, 6):
        others = np.arange(8) != held
        at = PLANE.take(others)
        krige = gs.krige.ExtDrift(model, (at.x, at.y), values[0, others], ext_drift=at.drift.T)
        estimate, _ = krige(([PLANE.x[held]], [PLANE.y[held]]), ext_drift=PLANE.drift[[held]].T)
        assert errors[0, held] == pytest.approx(values[0, held] - estimate[0], abs=1e-6)


def test_robust_residuals_matter_only_where_a_station_stands_out():
    canyon, times = _plane_values(60.0)
    chosen, _, _, winsorized = prepared_steps(canyon, times, PLANE, KrigingParameters())
    assert winsorized.all()
    assert np.all(chosen[:, 0] < canyon[:, 0] - 20)  # the canyon's excess is not spread
    assert np.abs(chosen[:, 1:] - canyon[:, 1:]).mean() < 0.02  # the others kept
    _, _, used = krige_steps(canyon, times, PLANE, PLANE.take(np.array([1])), KrigingParameters())
    assert all(WINSORIZED in names for names in used)
    smooth, times = _plane_values(0.0)
    chosen, _, _, winsorized = prepared_steps(smooth, times, PLANE, KrigingParameters())
    assert winsorized.sum() <= 8  # a sixth of the hours: where noise passed 2 deviations
    assert np.abs(chosen - smooth).mean() < 0.1  # against 24 for the canyon above


def test_robust_kriging_estimates_a_canyons_neighbour_better():
    canyon, times = _plane_values(60.0)
    truth, _ = _plane_values(0.0)
    frame = leave_one_out(canyon, times, PLANE, list("abcdefgh"), {"citytwin": METHODS["kriging"]})
    b = frame[frame["sensor"] == "b"]  # 1.7 km from the canyon
    error = np.sqrt(np.mean((b["citytwin"].to_numpy() - truth[:, 1]) ** 2))
    plain = KrigingParameters(winsorize_at=np.inf)
    others = np.arange(8) != 1
    naive = krige_steps(
        canyon[:, others], times, PLANE.take(others), PLANE.take(np.array([1])), plain
    )
    naive_error = np.sqrt(np.mean((naive[0][:, 0] - truth[:, 1]) ** 2))
    assert error < 0.7 * naive_error
