"""Quality codes of a network's hourly series (time × sensor), as bit flags per reading. Pure.

The model of each sensor is robust statistics of its own data, chosen over a learned model
because faults are rare, heavy-tailed and unlabelled: the median and the scaled median absolute
deviation (MAD) of its residual against the network consensus (the median of the other sensors
at the same hour) over a training window, and the MAD of its hour-to-hour changes. A sensor with
fewer than `min_history` hours of training data gets only the checks that need no history
(range, stuck, spike against its own recent values).
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

GOOD = 0
RANGE = 1  # outside the variable's plausible range
STUCK = 2  # the same value for `stuck_hours` or more
SPIKE = 4  # far from its own recent values and from the network's
OFFSET = 8  # a step away from the network consensus
DRIFT = 16  # a slow divergence from the network consensus
NOISE = 32  # its hour-to-hour changes far noisier than its own normal
KINDS = {"range": RANGE, "stuck": STUCK, "spike": SPIKE, "offset": OFFSET, "drift": DRIFT,
         "noise": NOISE}  # fmt: skip
MAD_SCALE = 1.4826  # MAD × this estimates σ of a normal distribution


@dataclass(frozen=True)
class Policy:
    """Thresholds; the defaults are those bench/quality.py measures."""

    bounds: tuple[float, float] = (0.0, 1000.0)
    stuck_hours: int = 5
    spike_sigma: float = 8.0
    spike_floor: float = 15.0  # smallest jump called a spike, in the variable's unit
    bias_sigma: float = 3.0
    bias_floor: float = 2.0
    bias_hours: int = 24  # window of the running median of the residual
    step_share: float = 0.6  # share of a bias reached within `bias_hours`: a step (offset)
    noise_ratio: float = 3.0
    training_hours: int = 7 * 24
    min_history: int = 72


def _mad(table: np.ndarray) -> np.ndarray:
    """Scaled MAD per column, ignoring NaN (NaN where a column has no values)."""
    with np.errstate(all="ignore"):
        median = np.nanmedian(table, axis=0)
        return MAD_SCALE * np.nanmedian(np.abs(table - median), axis=0)


def _stuck(values: np.ndarray, hours: int) -> np.ndarray:
    """Readings in runs of `hours` or more equal values of one sensor."""
    same = np.zeros(values.shape, bool)
    same[1:] = values[1:] == values[:-1]
    counts = np.zeros(values.shape, np.int32)
    for row in range(1, len(values)):
        counts[row] = np.where(same[row], counts[row - 1] + 1, 0)
    stuck = counts >= hours - 1
    # mark the run back to its first value
    for back in range(1, hours):
        stuck[:-back] |= stuck[back:] & (counts[back:] >= back)
    return stuck


def assess(values: pd.DataFrame, policy: Policy = Policy()) -> pd.DataFrame:
    """Bit flags per reading of an hourly frame (index: hour, columns: sensors; NaN: none)."""
    with warnings.catch_warnings():  # sensors without data have NaN medians: meant
        warnings.simplefilter("ignore", RuntimeWarning)
        return _assess(values, policy)


def _assess(values: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    x = values.to_numpy(dtype=float)
    codes = np.zeros(x.shape, np.uint8)
    low, high = policy.bounds
    with np.errstate(invalid="ignore"):
        codes[(x < low) | (x > high)] |= RANGE
    codes[_stuck(x, policy.stuck_hours)] |= STUCK
    clean = np.where(codes == GOOD, x, np.nan)
    with np.errstate(all="ignore"):
        consensus = np.nanmedian(clean, axis=1)
    residual = clean - consensus[:, None]
    training = residual[: policy.training_hours]
    enough = np.isfinite(training).sum(axis=0) >= policy.min_history
    centre = np.nan_to_num(np.nanmedian(training, axis=0) if enough.any() else 0.0)
    spread = np.nan_to_num(_mad(training), nan=1.0).clip(min=0.1)
    changes = np.full(x.shape, np.nan)
    changes[1:] = clean[1:] - clean[:-1]
    change_spread = np.nan_to_num(_mad(changes[: policy.training_hours]), nan=1.0).clip(min=0.1)
    frame = pd.DataFrame(clean)
    recent = frame.shift(1).rolling(3, min_periods=1).median().to_numpy()
    with np.errstate(invalid="ignore"):
        own = np.abs(clean - recent) > np.maximum(policy.spike_sigma * change_spread,
                                                  policy.spike_floor)  # fmt: skip
        network = np.abs(residual - centre) > np.maximum(policy.spike_sigma * spread,
                                                         policy.spike_floor)  # fmt: skip
    spike = own & (network | ~enough)
    codes[spike] |= SPIKE
    steady = pd.DataFrame(np.where(spike, np.nan, residual))
    level = steady.rolling(policy.bias_hours, min_periods=policy.bias_hours // 2).median()
    bias = level.to_numpy() - centre
    with np.errstate(invalid="ignore"):
        biased = (np.abs(bias) > np.maximum(policy.bias_sigma * spread, policy.bias_floor)) & enough
        before = np.full(x.shape, np.nan)
        before[policy.bias_hours :] = bias[: -policy.bias_hours]
        step = ~(np.abs(bias - before) < policy.step_share * np.abs(bias))
    # An episode of bias is an offset if it began as a step: carried to its end.
    began = np.where(~biased, 0.0, np.where(step, 1.0, np.nan))
    offset = biased & (pd.DataFrame(began).ffill().to_numpy() == 1.0)
    codes[offset] |= OFFSET
    codes[biased & ~offset] |= DRIFT
    jumps = pd.DataFrame(np.abs(np.where(spike, np.nan, changes)))
    noise = jumps.rolling(policy.bias_hours, min_periods=12).median().to_numpy() * MAD_SCALE
    with np.errstate(invalid="ignore"):
        codes[(noise > policy.noise_ratio * change_spread) & enough] |= NOISE
    codes[~np.isfinite(x)] = GOOD
    return pd.DataFrame(codes, index=values.index, columns=values.columns)
