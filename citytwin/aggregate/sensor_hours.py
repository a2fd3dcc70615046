"""Sensor hours: count, sum, sum of squares, min and max per (sensor, variable, UTC hour,
flagged) of readings. Pure.

They merge exactly, as cell rollups do, so a load adds the sensor hours of what it stored to
those in the store, and the hourly mean and standard deviation of one sensor follow from them.
"""

import numpy as np
import pandas as pd

from citytwin.aggregate.rollups import STAT_REDUCERS, key_changes

HOUR_MICROSECONDS = 3_600_000_000
KEY = ["sensor_id", "variable_id", "hour", "flagged"]


def _ordered(keys: list[np.ndarray]) -> bool:
    """Whether rows are in key order (the keys compared lexicographically), in linear time."""
    after = np.zeros(len(keys[0]) - 1 if len(keys[0]) else 0, bool)
    same = ~after
    for key in keys:
        after |= same & (key[1:] > key[:-1])
        same &= key[1:] == key[:-1]
    return bool((after | same).all())


def sensor_hour_stats(readings: pd.DataFrame) -> pd.DataFrame:
    """Per (sensor_id, variable_id, hour, flagged) of `readings` (naive-UTC `time`): count,
    sum, sum_sq, min, max; sorted by key. Readings sorted by (sensor, variable, time), as a
    load orders them, are reduced in one pass; others are sorted first."""
    micros = readings["time"].to_numpy().astype("datetime64[us]").view(np.int64)
    keys = [
        readings["sensor_id"].to_numpy().astype(np.int32),
        readings["variable_id"].to_numpy().astype(np.int16),
        micros // HOUR_MICROSECONDS,
        readings["flagged"].to_numpy().astype(bool),
    ]
    value = readings["value"].to_numpy(dtype=float)
    if not _ordered(keys):
        order = np.lexsort(keys[::-1])  # the last key given is the first sorted on
        keys, value = [k[order] for k in keys], value[order]
    first = np.flatnonzero(key_changes(*keys))
    return pd.DataFrame(
        {
            "sensor_id": keys[0][first],
            "variable_id": keys[1][first],
            "hour": (keys[2][first] * HOUR_MICROSECONDS).astype("datetime64[us]"),
            "flagged": keys[3][first],
            "count": np.diff(np.append(first, len(value))).astype(np.int32),
            "sum": np.add.reduceat(value, first),
            "sum_sq": np.add.reduceat(value * value, first),
            "min": np.minimum.reduceat(value, first),
            "max": np.maximum.reduceat(value, first),
        }
    )


def merge_sensor_hours(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per key from the sensor hours of several pieces, sorted by key."""
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat(parts, ignore_index=True)
    merged = frame.groupby(KEY, sort=True).agg(STAT_REDUCERS).reset_index()
    return merged.astype({"count": np.int32})
