"""Sensor hours: count, sum, sum of squares, min and max per (sensor, variable, UTC hour,
flagged) of readings. Pure.

They merge exactly, as cell rollups do, so a load adds the sensor hours of what it stored to
those in the store, and the hourly mean and standard deviation of one sensor follow from them.
"""

import numpy as np
import pandas as pd

from citytwin.aggregate.rollups import STAT_REDUCERS, reduce_stats

HOUR_MICROSECONDS = 3_600_000_000
KEY = ["sensor_id", "variable_id", "hour", "flagged"]


def sensor_hour_stats(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (sensor_id, variable_id, hour, flagged) of `readings` (naive-UTC `time`): count,
    sum, sum_sq, min, max; sorted by key."""
    micros = readings["time"].to_numpy().astype("datetime64[us]").view(np.int64)
    value = readings["value"].to_numpy(dtype=float)
    keys = {
        "sensor_id": readings["sensor_id"].to_numpy().astype(np.int32),
        "variable_id": readings["variable_id"].to_numpy().astype(np.int16),
        "hour": (micros // HOUR_MICROSECONDS * HOUR_MICROSECONDS).astype("datetime64[us]"),
        "flagged": readings["flagged"].to_numpy().astype(bool),
    }
    stats = {
        "count": np.ones(len(value), np.int32),
        "sum": value,
        "sum_sq": value * value,
        "min": value,
        "max": value,
    }
    return reduce_stats(keys, stats)


def merge_sensor_hours(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per key from the sensor hours of several pieces, sorted by key."""
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat(parts, ignore_index=True)
    return reduce_stats(
        {name: frame[name].to_numpy() for name in KEY},
        {name: frame[name].to_numpy() for name in STAT_REDUCERS},
    )
