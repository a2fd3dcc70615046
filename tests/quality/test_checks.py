"""Quality codes of a generated network: stuck, spike and range found; clean readings kept."""

import numpy as np
import pandas as pd

from citytwin.quality.checks import DRIFT, GOOD, OFFSET, RANGE, SPIKE, STUCK, _mad, _shorth, assess
from citytwin.quality.shifts import Design, cusum, ramps


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


def test_an_offset_is_found_within_a_day_and_ends_with_it():
    """A sensor reading 60 % high for three days in the third week: flagged from within a day
    of the step to its end, and nowhere else in the network."""
    frame = network(hours=21 * 24)
    step = slice(15 * 24, 18 * 24)
    frame.iloc[step, 4] *= 1.6
    codes = assess(frame)
    offset = (codes.to_numpy() & OFFSET) != 0
    found = np.flatnonzero(offset[:, 4])
    assert found.size and 15 * 24 <= found[0] < 16 * 24
    assert found[-1] < 18 * 24 + 6  # closed within hours of the step back
    assert offset[step, 4].mean() > 0.6
    assert not np.delete(offset, 4, axis=1).any()


def test_the_cusum_opens_on_a_sustained_shift_only():
    """Independent unit errors: a shift of two scales opens a high fault within ~10 hours (and
    names the hour the change began, within hours); an hour of six scales alone does not."""
    rng = np.random.default_rng(11)
    deviation = rng.normal(0.0, 1.0, (400, 2))
    deviation[200:, 0] += 2.0
    deviation[300, 1] += 6.0
    changes = np.full(deviation.shape, np.sqrt(2 / 24))  # a long-run scale of one
    design = Design(k=0.5, h=12.0, min_shift=0.0, alpha=1 / 168, hours=24)
    signs, starts, _ = cusum(deviation, changes, np.sqrt(2 / 24), np.full(2, 3.0), design)
    opened = np.flatnonzero(signs[:, 0])
    assert signs[:200].sum() == 0 and 200 < opened[0] < 212 and (signs[220:, 0] == 1).all()
    assert abs(starts[opened[0], 0] - 200) <= 8
    assert not signs[:, 1].any()


def test_a_ramp_since_the_change_is_a_drift_and_a_step_is_not():
    hours = np.arange(48, dtype=float)
    deviation = np.column_stack([np.where(hours >= 24, 0.5, 0.0), np.maximum(hours - 24, 0) / 40])
    signs = np.zeros(deviation.shape, np.int8)
    signs[36:] = 1
    starts = np.where(signs != 0, 24, -1)
    drifting = ramps(deviation, signs, starts, ratio=2.0)
    assert not drifting[:, 0].any() and drifting[36:, 1].all() and not drifting[:36].any()
