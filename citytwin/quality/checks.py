"""Quality codes of a network's hourly series (time × sensor), as bit flags per reading. Pure.

The model of each sensor is robust statistics of its own data, chosen over a learned model
because faults are rare, heavy-tailed and unlabelled. Values are compared on a log scale,
log(value + bias_floor), where a sensor reading 20 % high is 20 % high whatever the level and
noise near zero does not dominate. Each sensor has a calibration curve against the network
consensus (the median of the sensors at the same hour): its typical value in each quantile
band of the consensus (of `band_hours` at least, so that a fault of a day or two cannot take a
band), interpolated, so that a site reading a few units above the background at every level
(roadside) is expected to, though on the log scale that is a large ratio on clean days and a
small one in an episode. Against that curve it has a residual; its model is the location and
scale of that residual, and the median of its roughness (hour-to-hour changes) relative to the
network's, over the whole frame judged (the stored history and the load). "Typical", location
and scale are the shorth's (`_shorth`): they stay on the clean majority while faults cover
under half of it, where a median lands between the two. A sensor with fewer than
`min_history` hours of data gets only the checks that need no history (range, stuck, spike
against its own recent values).

Offsets and drift are sustained shifts of the residual: found by a CUSUM against a baseline
that follows slow wander (`shifts.py`), each hour judged on the hours before it only, and
worth a fault from `min_shift` (log 1.35: the EPA's performance target for PM sensors allows a
slope of 1 ± 0.35). Noise runs on trailing windows; a reading is flagged only while it carries
the fault itself (its own residual on the fault's side), so the end of an episode does not
linger in the flags.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from citytwin.quality.shifts import Design, cusum, ramps

GOOD = 0
RANGE = 1  # outside the variable's plausible range
STUCK = 2  # the same value for `stuck_hours` or more while the network moves
SPIKE = 4  # far from its own recent values and from the network's
OFFSET = 8  # a step away from the network consensus
DRIFT = 16  # a slow divergence from the network consensus
NOISE = 32  # its hour-to-hour changes far rougher than the network's, against its own normal
MAD_SCALE = 1.4826  # MAD × this estimates σ of a normal (1 / Φ⁻¹(0.75))
KINDS = {"range": RANGE, "stuck": STUCK, "spike": SPIKE, "offset": OFFSET, "drift": DRIFT,
         "noise": NOISE}  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """Thresholds; the defaults are those bench/quality.py measures."""

    bounds: tuple[float, float] = (0.0, 1000.0)
    stuck_hours: int = 6
    stuck_moved: float = 0.2  # the consensus moved by more than this (log scale) meanwhile
    repeat_share: float = 0.05  # share of repeated values above which that is required
    spike_sigma: float = 6.0
    spike_floor: float = 30.0  # smallest jump called a spike, in the variable's unit
    bias_floor: float = 2.0  # in the variable's unit: the log scale's offset
    level_hours: int = 24  # window of the running roughness and of the long-run scale
    cusum_k: float = 0.5  # CUSUM reference, in long-run scales: shifts of ~1 scale are sought
    cusum_h: float = 12.0  # CUSUM threshold, in long-run scales (chosen on unplanted series)
    min_shift: float = 0.3  # smallest shift worth a fault: log(1.35), EPA sensor slope 1 ± 0.35
    clip_sigma: float = 3.0  # an hour's part in the CUSUM, at most this many hourly scales
    baseline_alpha: float = 1 / 168  # weight of an hour in a sensor's baseline: a week's
    ramp_ratio: float = 2.0  # second-half over first-half mean since the change: a drift
    noise_ratio: float = 2.5  # roughness this many times its normal share of the network's
    min_history: int = 72
    bands: int = 8  # quantile bands of the consensus in a sensor's calibration curve, at most
    band_hours: int = 72  # hours of the consensus in each band, at least
    min_sensors: int = 3  # fewer at an hour: no consensus


def _nanmedian(table: np.ndarray, axis: int) -> np.ndarray:
    """np.nanmedian by one sort: numpy's own goes through masked arrays for short axes, ten
    times slower on a network's frame. NaN where a slice has no value."""
    ordered = np.sort(table, axis=axis)  # NaN sorts last
    count = np.expand_dims(np.isfinite(table).sum(axis=axis), axis)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=axis)
    high = np.take_along_axis(ordered, count // 2 - (count == 0), axis=axis)
    median = np.squeeze((low + high) / 2, axis=axis)
    return np.where(np.squeeze(count, axis=axis) > 0, median, np.nan)


def _mad(table: np.ndarray) -> np.ndarray:
    """Scaled MAD per column (σ of a normal), ignoring NaN. As scipy's `median_abs_deviation`
    (`scale="normal"`), whose `nan_policy="omit"` loops over the columns in Python."""
    centre = _nanmedian(table, axis=0)
    return MAD_SCALE * _nanmedian(np.abs(table - centre), axis=0)


def _shorth(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the midpoint and the σ-scaled length of the shortest interval holding half
    of its values (NaN ignored; Rousseeuw's LMS location and scale). Both break down at 50 %
    as the median and MAD do, but stay on the majority where a fault holds a cluster of up to
    half of the values, where the median lands between the two."""
    ordered = np.sort(table, axis=0)  # NaN sorts last
    count = np.isfinite(table).sum(axis=0)
    half = count // 2 + 1
    rows = np.arange(len(table))[:, None]
    upper = np.minimum(rows + half - 1, len(table) - 1)
    widths = np.take_along_axis(ordered, upper, axis=0) - ordered
    widths[(rows + half - 1 >= count) | ~np.isfinite(widths)] = np.inf
    start = np.argmin(widths, axis=0)[None]
    low = np.take_along_axis(ordered, start, axis=0)[0]
    high = np.take_along_axis(ordered, np.minimum(start + half - 1, len(table) - 1), axis=0)[0]
    enough = count >= 2
    centre = np.where(enough, (low + high) / 2, np.nan)
    return centre, np.where(enough, (high - low) / 1.349, np.nan)  # σ of a normal: 2 × 0.6745


def _stuck(values: np.ndarray, consensus: np.ndarray, policy: Policy) -> np.ndarray:
    """Readings in runs of `stuck_hours` or more equal values; for a sensor whose values often
    repeat, only runs during which the consensus (log scale) moved by more than `stuck_moved`
    (a steady night of whole numbers is no fault)."""
    hours, sensors = values.shape
    flat = values.T.ravel()
    starts = np.ones(flat.size, bool)
    starts[1:] = flat[1:] != flat[:-1]  # NaN never equals: a gap ends a run
    starts[::hours] = True
    run = np.cumsum(starts) - 1
    length = np.bincount(run)[run]
    moving = np.tile(np.nan_to_num(consensus), sensors)
    # Runs are contiguous: their extremes by one reduceat each, no groupby.
    first = np.flatnonzero(starts)
    span = np.maximum.reduceat(moving, first) - np.minimum.reduceat(moving, first)
    moved = span[run] > policy.stuck_moved
    # Only a sensor whose values often repeat (whole numbers, coarse steps) must also see the
    # network move: hourly means of a finer sensor never repeat by chance.
    repeats = (~starts).reshape(sensors, hours).mean(axis=1) > policy.repeat_share
    moved |= ~np.repeat(repeats, hours)
    stuck = (length >= policy.stuck_hours) & np.isfinite(flat) & moved
    return stuck.reshape(sensors, hours).T


def changes_of(table: np.ndarray) -> np.ndarray:
    """Hour-to-hour changes per column (NaN in the first row)."""
    changes = np.full(table.shape, np.nan)
    changes[1:] = table[1:] - table[:-1]
    return changes


def _consensus(scaled: np.ndarray, policy: Policy) -> np.ndarray:
    enough = np.isfinite(scaled).sum(axis=1) >= policy.min_sensors
    return np.where(enough, _nanmedian(scaled, axis=1), np.nan)


def _bands(
    clean: np.ndarray, consensus: np.ndarray, bands: int, band_hours: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-sensor calibration curve: band centres of the consensus (quantiles) and each
    sensor's median value in each band, empty bands filled from the neighbouring bands."""
    known = np.isfinite(consensus)
    # Each band holds `band_hours` or more, so that a fault of a day or two cannot take a
    # band's majority (a week of history: two bands; a month: eight).
    bands = min(bands, int(known.sum()) // band_hours)
    if bands < 1:
        return None
    edges = np.quantile(consensus[known], np.linspace(0, 1, bands + 1))
    band = np.clip(np.searchsorted(edges, consensus, side="right") - 1, 0, bands - 1)
    centres, curve = [], []
    for number in range(bands):
        rows = known & (band == number)
        if rows.any():
            centres.append(np.median(consensus[rows]))
            curve.append(_shorth(clean[rows])[0])
    filled = pd.DataFrame(np.vstack(curve)).interpolate(limit_direction="both").to_numpy()
    return np.asarray(centres), filled


def _expected(
    curve: tuple[np.ndarray, np.ndarray] | None, consensus: np.ndarray, sensors: int
) -> np.ndarray:
    """A sensor's expected value at each hour from its calibration curve and the consensus."""
    if curve is None:
        return np.full((len(consensus), sensors), np.nan)
    centres, values = curve
    position = np.interp(consensus, centres, np.arange(len(centres)))
    position = np.nan_to_num(position)
    low = np.floor(position).astype(int).clip(0, len(centres) - 1)
    high = np.minimum(low + 1, len(centres) - 1)
    weight = (position - low)[:, None]
    # Beyond the outer bands the last difference holds: a rise of the whole network above
    # anything seen is followed by every sensor.
    beyond = consensus - np.clip(consensus, centres[0], centres[-1])
    expected = values[low] * (1 - weight) + values[high] * weight + beyond[:, None]
    expected[~np.isfinite(consensus)] = np.nan
    return expected


def _trailing_median(table: np.ndarray, hours: int, rows: int = 2048) -> np.ndarray:
    """Per column, the median of the last `hours` rows (NaN ignored; NaN where fewer than half
    hold a value). Vectorised over windows, a block of rows at a time to bound memory."""
    padded = np.vstack([np.full((hours - 1, table.shape[1]), np.nan), table])
    out = np.full(table.shape, np.nan)
    for start in range(0, len(table), rows):
        windows = sliding_window_view(padded[start : start + rows + hours - 1], hours, axis=0)
        median = _nanmedian(windows, axis=2)
        median[np.isfinite(windows).sum(axis=2) < max(hours // 2, 1)] = np.nan
        out[start : start + rows] = median
    return out


def _trailing_mean(table: np.ndarray, hours: int) -> np.ndarray:
    """Per column, the mean of the last `hours` rows (NaN ignored; NaN where fewer than half
    hold a value), by cumulative sums over all columns at once."""
    zero = np.zeros((1, table.shape[1]))
    total = np.vstack([zero, np.cumsum(np.nan_to_num(table), axis=0)])
    count = np.vstack([zero, np.cumsum(np.isfinite(table), axis=0)])
    low = np.maximum(np.arange(1, len(table) + 1) - hours, 0)
    high = np.arange(1, len(table) + 1)
    n = count[high] - count[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[high] - total[low]) / n
    return np.where(n >= max(hours // 2, 1), mean, np.nan)


def assess(values: pd.DataFrame, policy: Policy = Policy()) -> pd.DataFrame:
    """Bit flags per reading of an hourly frame (index: hour, columns: sensors; NaN: none)."""
    with warnings.catch_warnings():  # all-NaN hours and sensors give NaN medians: meant
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(invalid="ignore"):
            return pd.DataFrame(_assess(values, policy), index=values.index, columns=values.columns)


def _assess(values: pd.DataFrame, policy: Policy) -> np.ndarray:
    x = values.to_numpy(dtype=float)
    codes = np.zeros(x.shape, np.uint8)
    low, high = policy.bounds
    codes[(x < low) | (x > high)] |= RANGE
    scaled = np.log(np.clip(x, 0, None) + policy.bias_floor)
    consensus = _consensus(np.where(codes == GOOD, scaled, np.nan), policy)
    codes[_stuck(x, consensus, policy)] |= STUCK
    clean = np.where(codes == GOOD, scaled, np.nan)
    consensus = _consensus(clean, policy)
    train = slice(None)
    # Each sensor against its own calibration on the consensus, not the consensus itself: a
    # roadside site reads a few µg/m³ above the background at every level, which on the log
    # scale is a large ratio on clean days and none in an episode.
    curve = _bands(clean[train], consensus[train], policy.bands, policy.band_hours)
    residual = clean - _expected(curve, consensus, clean.shape[1])
    # A sensor is judged against its model only after `min_history` hours of its own data.
    enough = np.cumsum(np.isfinite(residual), axis=0) >= policy.min_history

    # Roughness: hour-to-hour changes, the sensor's against the network's median change.
    changes = np.abs(changes_of(clean))
    network_change = _nanmedian(changes, axis=1)

    # Spikes: far from its own last values (in the unit) and from the network (on the scale).
    centre, spread = _shorth(residual[train])
    spread = np.nan_to_num(spread, nan=0.1).clip(min=0.02)
    own = np.where(codes == GOOD, x, np.nan)
    previous = np.vstack([np.full((1, own.shape[1]), np.nan), own[:-1]])
    recent = _trailing_median(previous, 3)
    jump = np.abs(own - recent)
    apart = np.abs(residual - centre) > policy.spike_sigma * spread
    # Without that history: a jump far beyond its own usual changes, once it has a day of them.
    own_spread = np.nan_to_num(_mad(changes_of(own)), nan=np.inf)
    seen = np.cumsum(np.isfinite(own), axis=0) >= 24
    alone = seen & (jump > policy.spike_sigma * own_spread)
    spike = (jump > policy.spike_floor) & np.where(enough, apart, alone)
    codes[spike] |= SPIKE

    steady = np.where(spike, np.nan, residual)
    deviation = steady - centre
    # Noise: running roughness relative to the network's, against its own training ratio.
    rough = np.where(spike, np.nan, changes)
    ratio = np.log(
        _trailing_median(rough, policy.level_hours)
        / _trailing_median(network_change[:, None], policy.level_hours)
    )
    ratio[~np.isfinite(ratio)] = np.nan
    normal = np.nan_to_num(_nanmedian(ratio[train], axis=0))
    rough_hours = (ratio - normal > np.log(policy.noise_ratio)) & enough
    noisy = rough_hours & (np.abs(deviation) > 2 * spread)  # the reading itself is off
    codes[noisy] |= NOISE

    # Offset and drift: a self-starting CUSUM (`shifts.cusum`) of each sensor's residual
    # against a baseline that follows its slow wander, scaled by the changes of its day-long
    # mean from one day to the next, which a fault touches only at its two ends. The network's
    # typical scale (median over sensors of their shorth) starts each sensor off. Noisy hours
    # are left out.
    calm = np.where(rough_hours, np.nan, deviation)
    day = _trailing_mean(calm, policy.level_hours)
    lag = policy.level_hours
    change = np.full(day.shape, np.nan)
    change[lag:] = day[lag:] - day[:-lag]
    scales = _shorth(change[train])[1] / np.sqrt(2)
    prior = float(np.nanmedian(scales)) if np.isfinite(scales).any() else 0.1
    design = Design(policy.cusum_k, policy.cusum_h, policy.min_shift, policy.baseline_alpha,
                    policy.level_hours)  # fmt: skip
    signs, starts, departures = cusum(
        np.where(enough, calm, np.nan), change, max(prior, 0.005), policy.clip_sigma * spread,
        design,
    )  # fmt: skip
    drifting = ramps(calm, signs, starts, policy.ramp_ratio)
    # The reading itself carries the fault: beyond half the least shift from the baseline.
    carries = departures * signs > policy.min_shift / 2
    shifted = (signs != 0) & carries & ~rough_hours
    codes[shifted & ~drifting] |= OFFSET
    codes[shifted & drifting] |= DRIFT
    codes[~np.isfinite(x)] = GOOD
    return codes
