"""The latest state of each series (sensor, variable) in a batch of readings, no I/O.

A load reduces every piece it stores to one row per series: its newest reading, the one before,
and the run of equal values ending with it. Summaries of pieces combine exactly when their
times do not interleave; otherwise the combined row is marked inexact and the store recomputes
that series from its readings.
"""

import numpy as np
import pandas as pd

KEY = ["sensor_id", "variable_id"]
COLUMNS = {
    "sensor_id": np.int32,
    "variable_id": np.int16,
    "first_time": "datetime64[us]",  # the oldest reading of the batch
    "time": "datetime64[us]",  # the newest, with its value, flag and cell
    "value": np.float64,
    "flagged": bool,
    "cell": np.int64,
    "prev_time": "datetime64[us]",  # the one before the newest (= newest when count is 1)
    "prev_value": np.float64,
    "run_length": np.int32,  # readings in a row, ending with the newest, equal to it
    "count": np.int32,  # readings of the series in the batch
    "exact": bool,  # False: pieces interleaved in time; recompute from the store
}


def empty() -> pd.DataFrame:
    """A summary of no readings."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in COLUMNS.items()})


def summarise(readings: pd.DataFrame) -> pd.DataFrame:
    """One row per series of `readings` sorted by (sensor_id, variable_id, time), naive-UTC
    `time`, without duplicate keys."""
    if readings.empty:
        return empty()
    sensor = readings["sensor_id"].to_numpy()
    variable = readings["variable_id"].to_numpy()
    time = readings["time"].to_numpy().astype("datetime64[us]")
    value = readings["value"].to_numpy(dtype=np.float64)
    size = len(readings)
    starts_series = np.ones(size, bool)
    starts_series[1:] = (sensor[1:] != sensor[:-1]) | (variable[1:] != variable[:-1])
    first = np.flatnonzero(starts_series)
    last = np.r_[first[1:], size] - 1
    count = last - first + 1
    # Where each run of equal values begins: the latest such start at or before every row.
    starts_run = starts_series.copy()
    starts_run[1:] |= value[1:] != value[:-1]
    run_start = np.maximum.accumulate(np.where(starts_run, np.arange(size), 0))
    before = np.where(count > 1, last - 1, last)
    return pd.DataFrame(
        {
            "sensor_id": sensor[first].astype(np.int32),
            "variable_id": variable[first].astype(np.int16),
            "first_time": time[first],
            "time": time[last],
            "value": value[last],
            "flagged": readings["flagged"].to_numpy(dtype=bool)[last],
            "cell": readings["cell"].to_numpy(dtype=np.int64)[last],
            "prev_time": time[before],
            "prev_value": value[before],
            "run_length": (last - run_start[last] + 1).astype(np.int32),
            "count": count.astype(np.int32),
            "exact": np.ones(len(first), bool),
        }
    )


def combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The summary of several batches' readings, from their summaries."""
    parts = [part for part in parts if not part.empty]
    if len(parts) <= 1:
        return parts[0] if parts else empty()
    rows = pd.concat(parts, ignore_index=True)
    sensor, variable = rows["sensor_id"].to_numpy(), rows["variable_id"].to_numpy()
    first_time, time = rows["first_time"].to_numpy(), rows["time"].to_numpy()
    value, run, count = (rows[c].to_numpy() for c in ("value", "run_length", "count"))
    # Each series' summaries together, oldest first.
    order = np.lexsort((first_time, variable, sensor))
    sensor, variable, first_time, time = (
        sensor[order],
        variable[order],
        first_time[order],
        time[order],
    )
    value, run, count = value[order], run[order], count[order]
    size = len(order)
    starts = np.ones(size, bool)
    starts[1:] = (sensor[1:] != sensor[:-1]) | (variable[1:] != variable[:-1])
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], size] - 1
    # Exact only if every summary is, and each begins after the one before it ends.
    follows = np.ones(size, bool)
    follows[1:] = starts[1:] | (first_time[1:] > time[:-1])
    exact = np.logical_and.reduceat(rows["exact"].to_numpy()[order] & follows, first)
    # A run reaches back into the summary before only through a summary that is one whole run
    # of the value the one before ended with.
    joins = ~starts
    joins[1:] &= (run[1:] == count[1:]) & (value[1:] == value[:-1])
    broken = np.maximum.accumulate(np.where(joins, 0, np.arange(size)))[last]
    runs = np.cumsum(run)
    before_run = np.where(broken > 0, runs[np.maximum(broken - 1, 0)], 0)
    single = (count[last] == 1) & (last > first)
    newest = order[last]
    previous = order[np.maximum(last - 1, 0)]

    def prior(column: str, own: str) -> np.ndarray:
        return np.where(single, rows[column].to_numpy()[previous], rows[own].to_numpy()[newest])

    return pd.DataFrame(
        {
            "sensor_id": sensor[first],
            "variable_id": variable[first],
            "first_time": first_time[first],
            "time": time[last],
            "value": value[last],
            "flagged": rows["flagged"].to_numpy()[newest],
            "cell": rows["cell"].to_numpy()[newest],
            "prev_time": prior("time", "prev_time"),
            "prev_value": prior("value", "prev_value"),
            "run_length": runs[last] - before_run,
            "count": np.add.reduceat(count, first),
            "exact": exact,
        }
    ).astype(COLUMNS)
