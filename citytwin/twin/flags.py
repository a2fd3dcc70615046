"""Flags on a sensor's latest reading: stale and suspect (stuck, jump). Pure, vectorised.

- stale: silent for longer than its feed's `expected_interval` × STALE_TOLERANCE.
- stuck: the last STUCK_READINGS readings are equal, unless that value is the bottom of the
  variable's range (a zero count or zero power at night is real, not a frozen sensor).
- jump: the change from the reading before is faster than the variable's whole range per hour
  (|Δvalue| / Δhours > range max − range min); a variable without a range never jumps.
"""

import numpy as np

from citytwin.feeds.definition import VariableSpec

STALE_TOLERANCE = 3.0  # a sensor may miss two reports before it is stale
STUCK_READINGS = 6


def stale(age_seconds: np.ndarray, interval_seconds: np.ndarray) -> np.ndarray:
    """Silent longer than the expected interval times the tolerance."""
    return np.asarray(age_seconds) > np.asarray(interval_seconds) * STALE_TOLERANCE


def stuck(run_length: np.ndarray, value: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The last STUCK_READINGS or more readings equal, at a value other than `floor` (NaN: no
    floor)."""
    return (np.asarray(run_length) >= STUCK_READINGS) & ~(np.asarray(value) == floor)


def jump(
    value: np.ndarray, prev_value: np.ndarray, hours_between: np.ndarray, max_rate: np.ndarray
) -> np.ndarray:
    """The change since the reading before is faster than `max_rate` per hour (NaN previous
    value or rate: no jump)."""
    change = np.abs(np.asarray(value, float) - np.asarray(prev_value, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = change / np.asarray(hours_between, float)
    return np.nan_to_num(rate, nan=0.0) > np.nan_to_num(np.asarray(max_rate, float), nan=np.inf)


def floor_of(spec: VariableSpec) -> float:
    """The bottom of the variable's range (NaN without a range)."""
    return float("nan") if spec.range is None else spec.range[0]


def max_rate_of(spec: VariableSpec) -> float:
    """The fastest plausible change per hour: the whole range (NaN without a range)."""
    return float("nan") if spec.range is None else spec.range[1] - spec.range[0]
