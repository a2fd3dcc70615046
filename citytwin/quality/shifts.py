"""Sustained shifts of a sensor against the network (offset, drift): a two-sided CUSUM. Pure.

Page's CUSUM sums a sensor's standardised residual beyond a reference `k` and opens a fault
when the sum passes `h`, so a shift that no single hour shows is found within a day, and a
wander that turns back is forgotten. The residual is taken against a baseline that follows the
sensor with a week's memory (a slow wander of its ratio to the network, which real low-cost
sensors show by 10-30 % between weeks, is no fault) and held while a fault is open. It is
standardised by the sensor's long-run scale (that of its day-long mean × √24), which is its
hourly scale for independent errors and larger where its errors persist for hours, so a sensor
whose level wanders does not alarm at every wander; the reference is at least half of
`min_shift`, the smallest shift worth a fault. Self-starting: baseline and scale are learnt
from the hours before the one judged, so the state could be carried from load to load. With
`h` = 12 and `k` = 0.5 an in-control sensor of independent errors would alarm about once in
10⁵ hours (Siegmund's approximation); real residuals persist for hours, so `h` was chosen on
the unplanted real series of bench/quality.py (offset and drift flags on 0.35 % of their
sensor-days). The sum is capped at `h` while a fault is open and the fault closes when it falls
below `h / 2`, so the end of a fault is seen within hours.

Offset or drift: the change began where the sum last stood at zero; a fault whose mean residual
over the second half since then is more than `ramp_ratio` times that of the first half is a
drift (a ramp from zero gives 3, a step 1).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Design:
    """The CUSUM's constants (see `checks.Policy`)."""

    k: float  # reference, in long-run scales
    h: float  # threshold, in long-run scales
    min_shift: float  # smallest shift worth a fault, on the residual's scale
    alpha: float  # weight of an hour in the baseline and in the scale
    hours: int  # hours of the day-long level whose changes give the scale


def cusum(
    deviation: np.ndarray, changes: np.ndarray, prior: float, clip: np.ndarray, design: Design
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of `deviation` (rows: hours; NaN: no reading, the sums carried over), the
    open fault's sign at each row (+1 high, -1 low, 0 none), the row where its change began
    (-1: none) and each hour's departure from the baseline.

    Each hour is taken against the sensor's baseline, which follows its hours with weight
    `alpha` (a slow wander is no fault), clipped at `clip`, in units of its long-run scale: from
    the changes of its day-long level (`changes`: hour by hour, NaN where unknown), their mean
    square followed with weight `alpha` from the network's `prior`, each clipped at three
    scales. Self-starting: each hour is judged on the hours before it only. Baseline and scale
    hold while a fault is open."""
    rows, columns = deviation.shape
    base = np.zeros(columns)
    square = np.full(columns, prior**2)
    high, low = np.zeros(columns), np.zeros(columns)
    high_start, low_start = np.zeros(columns, int), np.zeros(columns, int)
    open_sign = np.zeros(columns, np.int8)
    signs = np.zeros(deviation.shape, np.int8)
    starts = np.full(deviation.shape, -1)
    departures = np.full(deviation.shape, np.nan)
    for row in range(rows):
        scale = np.sqrt(square / 2 * design.hours)
        reference = np.maximum(design.k, design.min_shift / 2 / scale)
        known = np.isfinite(deviation[row])
        departures[row] = deviation[row] - base
        part = np.clip(np.where(known, departures[row], 0.0), -clip, clip)
        step = part / scale
        high = np.where(known, np.maximum(0.0, high + step - reference), high)
        low = np.where(known, np.maximum(0.0, low - step - reference), low)
        high_start = np.where(high == 0.0, row + 1, high_start)
        low_start = np.where(low == 0.0, row + 1, low_start)
        opened = np.where(high > design.h, 1, np.where(low > design.h, -1, 0)).astype(np.int8)
        held = np.where(open_sign > 0, high > design.h / 2, low > design.h / 2) & (open_sign != 0)
        open_sign = np.where(held, open_sign, opened)
        high = np.where(open_sign > 0, np.minimum(high, design.h), high)
        low = np.where(open_sign < 0, np.minimum(low, design.h), low)
        calm = open_sign == 0
        base = np.where(calm, base + design.alpha * part, base)
        change = changes[row]
        seen = calm & np.isfinite(change)
        bounded = np.minimum(np.nan_to_num(change) ** 2, 9 * square)
        square = np.where(seen, square + design.alpha * (bounded - square), square)
        signs[row] = open_sign
        starts[row] = np.where(open_sign > 0, high_start, np.where(open_sign < 0, low_start, -1))
    return signs, starts, departures


def ramps(deviation: np.ndarray, signs: np.ndarray, starts: np.ndarray, ratio: float) -> np.ndarray:
    """Where a fault is open, whether its residual since the change began grows as a ramp: the
    mean of the second half over that of the first half above `ratio` (signed by the fault)."""
    filled = np.nan_to_num(deviation)
    counted = np.isfinite(deviation).astype(float)
    total = np.vstack([np.zeros((1, filled.shape[1])), np.cumsum(filled, axis=0)])
    count = np.vstack([np.zeros((1, filled.shape[1])), np.cumsum(counted, axis=0)])
    rows, columns = np.nonzero(signs)
    begin = starts[rows, columns]
    middle = (begin + rows + 1) // 2
    end = rows + 1

    def mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        n = count[b, columns] - count[a, columns]
        return (total[b, columns] - total[a, columns]) / np.maximum(n, 1)

    sign = signs[rows, columns]
    first, second = sign * mean(begin, middle), sign * mean(middle, end)
    out = np.zeros(signs.shape, bool)
    out[rows, columns] = second > ratio * np.maximum(first, 1e-9)
    return out
