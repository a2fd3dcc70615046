"""FAIRMODE scores against values worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from citytwin.core.skill import FAIRMODE, daily_means, mqi90, scores, skill_table

OBSERVED = np.array([10.0, 20.0, 30.0, 40.0])
MODELLED = np.array([12.0, 18.0, 33.0, 41.0])


def test_scores_of_four_pairs_with_the_no2_uncertainty():
    # errors 2, -2, 3, 1: bias 1, MSE 4.5; U² = 0.24² (0.96·O² + 0.2²·200²), mean O² = 750
    got = scores(OBSERVED, MODELLED, FAIRMODE["no2"])
    scale = 2 * np.sqrt(0.0576 * (0.96 * 750 + 1600))  # β · RMS_U = 23.1197
    assert got["n"] == 4
    assert got["bias"] == pytest.approx(1.0)
    assert got["rmse"] == pytest.approx(np.sqrt(4.5))
    assert got["crmse"] == pytest.approx(np.sqrt(3.5))
    assert got["r"] == pytest.approx(127.5 / (np.sqrt(125) * np.sqrt(133.5)))
    assert got["rms_u"] == pytest.approx(11.55993, abs=1e-5)  # √133.632
    assert got["mqi"] == pytest.approx(np.sqrt(4.5) / scale)
    assert got["mqi"] == pytest.approx(0.09175, abs=1e-5)
    # |σM − σO| = 0.374 < σO·√(2(1 − r)) = 1.80: the correlation dominates, left half
    assert got["target"] == {
        "bias": pytest.approx(1 / scale),
        "crmse": pytest.approx(-np.sqrt(3.5) / scale),
    }
    assert got["target"]["bias"] ** 2 + got["target"]["crmse"] ** 2 == pytest.approx(
        got["mqi"] ** 2
    )


def test_a_spread_dominated_error_lies_right():
    got = scores(OBSERVED, 2 * OBSERVED - 25, FAIRMODE["no2"])  # r = 1 but twice the spread
    assert got["r"] == pytest.approx(1.0)
    assert got["target"]["crmse"] > 0


def test_scores_without_pairs_or_uncertainty():
    assert scores(np.array([]), np.array([])) == {"n": 0, "bias": None, "rmse": None, "r": None}
    got = scores(np.array([5.0]), np.array([7.0]))
    assert (got["bias"], got["rmse"], got["r"]) == (2.0, 2.0, None)
    assert "mqi" not in got


def test_mqi90_interpolates_at_rank_nine_tenths_of_n():
    assert mqi90([v / 10 for v in range(10, 0, -1)]) == pytest.approx(0.9)
    assert mqi90([float(v) for v in range(1, 15)]) == pytest.approx(12.6)  # rank 12.6 of 14
    assert mqi90([0.7]) == pytest.approx(0.7)
    assert mqi90([]) is None


def test_daily_means_keep_days_with_three_quarters_of_the_hours():
    hours = pd.date_range("2026-11-02", periods=48, freq="h", tz="UTC")
    frame = pd.DataFrame({"sensor": "a", "time": hours, "observed": np.arange(48.0)})
    frame["model"] = frame["observed"] + 1
    frame = frame.drop(index=range(24, 31))  # 17 hours left on the second day
    got = daily_means(frame, ["observed", "model"])
    assert list(got["time"]) == [pd.Timestamp("2026-11-02", tz="UTC")]
    assert got["observed"].tolist() == [11.5]
    assert got["model"].tolist() == [12.5]


def test_skill_table_scores_pm25_on_daily_means_per_station():
    hours = pd.date_range("2026-11-02", periods=48, freq="h", tz="UTC")
    frames = []
    for sensor, offset in (("a", 0.0), ("b", 4.0)):
        frames.append(
            pd.DataFrame({"sensor": sensor, "time": hours, "observed": 10.0, "m": 10.0 + offset})
        )
    table = skill_table(pd.concat(frames), ["m"], "pm25")
    assert table["averaging"] == "day"
    assert table["fairmode"]["rv"] == 25.0
    overall = table["methods"]["m"]["overall"]
    assert overall["n"] == 4  # two days at two stations
    assert overall["bias"] == pytest.approx(2.0)
    rms_u = 0.36 * np.sqrt(0.75 * 100 + 0.25 * 625)
    stations = table["methods"]["m"]["stations"]
    assert [s["sensor"] for s in stations] == ["a", "b"]
    assert stations[1]["mqi"] == pytest.approx(4.0 / (2 * rms_u))
    # two stations: rank 1.8, between a (0) and b
    assert overall["mqi90"] == pytest.approx(0.8 * stations[1]["mqi"])
