"""Quality codes of a generated network: stuck, spike and range found; clean readings kept."""

import numpy as np
import pandas as pd

from citytwin.quality.checks import DRIFT, GOOD, OFFSET, RANGE, SPIKE, STUCK, _mad, _shorth, assess


def network(hours: int = 14 * 24, sensors: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    index = pd.date_range("2026-11-01", periods=hours, freq="h", tz="UTC")
    common = 10 + 5 * np.sin(np.arange(hours) / 24 * 2 * np.pi)
    values = common[:, None] + rng.normal(0, 1, (hours, sensors))
    return pd.DataFrame(values.round(2), index=index, columns=[f"s{i}" for i in range(sensors)])


def test_stuck_spike_and_range_are_coded_and_the_rest_is_good():
    frame = network()
    frame.iloc[200:210, 1] = 12.34  # stuck for 10 hours
    frame.iloc[250, 2] += 120.0  # a spike on one sensor only
    frame.iloc[260, 3] = -5.0  # below the plausible range
    codes = assess(frame)
    assert (codes.iloc[200:210, 1] & STUCK).all() and not (codes.iloc[190:200, 1] & STUCK).any()
    assert codes.iloc[250, 2] & SPIKE and codes.iloc[260, 3] & RANGE
    flagged = int((codes != GOOD).to_numpy().sum())
    assert flagged <= 10 + 1 + 1 + 0.01 * codes.size  # few false alarms on clean readings


def test_a_shared_rise_is_no_spike():
    frame = network()
    frame.iloc[250, :] += 120.0  # every sensor sees it: an event, not a fault
    assert not (assess(frame).iloc[250] & SPIKE).any()


def test_a_site_above_the_background_at_every_level_is_no_offset():
    """A roadside site adds 6 units to the background whatever its level: on the log scale a
    large ratio on clean days and a small one in episodes, which its calibration curve expects."""
    frame = network(hours=21 * 24)
    frame.iloc[12 * 24 : 14 * 24] += 40.0  # a two-day pollution episode, network-wide
    frame["roadside"] = frame["s0"] + 6.0
    codes = assess(frame)["roadside"].to_numpy()
    assert not (codes & (OFFSET | DRIFT)).any()


def test_the_shorth_stays_on_the_clean_majority_where_the_median_moves():
    rng = np.random.default_rng(3)
    clean = rng.normal(0.0, 0.1, 57)
    values = np.concatenate([clean, 0.5 + rng.normal(0.0, 0.1, 43)])[:, None]  # 43 % offset
    centre, scale = _shorth(values)
    assert abs(centre[0]) < 0.05 and np.median(values) > 0.1
    # Half of the values lie within about ±1.5 σ of the clean part (57 %): wider than ±0.67 σ, but
    # not stretched over both clusters as the MAD is.
    assert 0.15 < scale[0] < 0.25 and _mad(values)[0] > 0.28
