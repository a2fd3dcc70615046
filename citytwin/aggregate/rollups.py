"""Cell rollups: count, sum, sum of squares, min and max, per (variable, UTC day, cell), with the
same per base bucket of the day in slots.

These numbers merge exactly (sums add, extremes compare), so the rollups of any pieces of data
combine into the rollup of the whole, and mean and standard deviation follow from them. A load
computes them per slot (`slot_stats`: one narrow row per variable, day, cell and slot, about one
per reading of a live load); day rows with slot arrays (`days_from_slots`) are built from those.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_MICROSECONDS = 86_400_000_000
KEY = ["variable_id", "day", "cell"]
SLOT_KEY = [*KEY, "slot"]
STAT_REDUCERS = {"count": "sum", "sum": "sum", "sum_sq": "sum", "min": "min", "max": "max"}


@dataclass(frozen=True)
class Rollups:
    """Rollup rows: keys and day totals are 1-D, slots are 2-D (row, slot)."""

    variable_id: np.ndarray  # int16
    day: np.ndarray  # datetime64[us], UTC midnight
    cell: np.ndarray  # int64
    slot_count: np.ndarray  # int32
    slot_sum: np.ndarray
    slot_sum_sq: np.ndarray
    slot_min: np.ndarray  # +inf where a slot is empty
    slot_max: np.ndarray  # -inf where a slot is empty

    def __len__(self) -> int:
        return len(self.cell)

    def columns(self) -> dict[str, np.ndarray]:
        """Every column of `cell_rollups`, day totals derived from the slots."""
        return {
            "variable_id": self.variable_id,
            "day": self.day,
            "cell": self.cell,
            "count": self.slot_count.sum(axis=1, dtype=np.int64),
            "sum": self.slot_sum.sum(axis=1),
            "sum_sq": self.slot_sum_sq.sum(axis=1),
            "min": self.slot_min.min(axis=1),
            "max": self.slot_max.max(axis=1),
            "slot_count": self.slot_count,
            "slot_sum": self.slot_sum,
            "slot_sum_sq": self.slot_sum_sq,
            "slot_min": self.slot_min,
            "slot_max": self.slot_max,
        }


def key_changes(*columns: np.ndarray | pd.Series) -> np.ndarray:
    """For sorted keys: True where a row's key differs from the row before (and at row 0)."""
    changed = np.zeros(len(columns[0]), bool)
    changed[:1] = True
    for column in columns:
        values = np.asarray(column)
        changed[1:] |= values[1:] != values[:-1]
    return changed


def reduce_stats(keys: dict[str, np.ndarray], stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per key of `keys` (columns compared lexicographically, in order) with the
    `stats` (count, sum, sum_sq, min, max) of its rows merged; sorted by key. Rows already in
    key order (as a load orders readings) are reduced in one pass, others sorted first: numpy
    throughout, no pandas groupby."""
    columns = list(keys.values())
    if not _ordered(columns):
        order = np.lexsort(columns[::-1])  # the last key given is the first sorted on
        keys = {name: values[order] for name, values in keys.items()}
        stats = {name: values[order] for name, values in stats.items()}
    first = np.flatnonzero(key_changes(*keys.values()))
    merged = {name: values[first] for name, values in keys.items()}
    for name, values in stats.items():
        reducer = {"min": np.minimum, "max": np.maximum}.get(name, np.add)
        merged[name] = reducer.reduceat(values, first) if len(first) else values[:0]
    return pd.DataFrame(merged)


def _ordered(keys: list[np.ndarray]) -> bool:
    """Whether rows are in key order (the keys compared lexicographically), in linear time."""
    after = np.zeros(max(len(keys[0]) - 1, 0), bool)
    same = ~after
    for key in keys:
        after |= same & (key[1:] > key[:-1])
        same &= key[1:] == key[:-1]
    return bool((after | same).all())


def slot_stats(readings: pd.DataFrame, bucket_seconds: int) -> pd.DataFrame:
    """Per (variable_id, day, cell, slot) of the unflagged `readings` (naive-UTC `time`): count,
    sum, sum_sq, min, max; sorted by key. `day` is UTC midnight, `slot` counts buckets from it."""
    kept = readings.loc[~readings["flagged"].to_numpy()]
    micros = kept["time"].to_numpy().astype("datetime64[us]").view(np.int64)
    value = kept["value"].to_numpy(dtype=float)
    keys = {
        "variable_id": kept["variable_id"].to_numpy().astype(np.int16),
        "day": (micros // DAY_MICROSECONDS * DAY_MICROSECONDS).astype("datetime64[us]"),
        "cell": kept["cell"].to_numpy().astype(np.int64),
        "slot": ((micros % DAY_MICROSECONDS) // (bucket_seconds * 1_000_000)).astype(np.int16),
    }
    stats = {
        "count": np.ones(len(kept), np.int32),
        "sum": value,
        "sum_sq": value * value,
        "min": value,
        "max": value,
    }
    return reduce_stats(keys, stats)


def merge_slot_stats(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per slot key from the slot stats of several pieces (or rows with repeated keys),
    sorted by key."""
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return reduce_stats(
        {name: frame[name].to_numpy() for name in SLOT_KEY},
        {name: frame[name].to_numpy() for name in STAT_REDUCERS},
    )


def days_from_slots(stats: pd.DataFrame, bucket_seconds: int) -> Rollups:
    """The day rows (slot arrays) of sorted, merged slot stats."""
    changed = key_changes(*(stats[name] for name in KEY))
    row = np.cumsum(changed) - 1
    first = np.flatnonzero(changed)
    rows, slots = len(first), 86_400 // bucket_seconds
    slot = stats["slot"].to_numpy()
    arrays = {
        "slot_count": np.zeros((rows, slots), np.int32),
        "slot_sum": np.zeros((rows, slots)),
        "slot_sum_sq": np.zeros((rows, slots)),
        "slot_min": np.full((rows, slots), np.inf),
        "slot_max": np.full((rows, slots), -np.inf),
    }
    for name, values in arrays.items():
        values[row, slot] = stats[name.removeprefix("slot_")].to_numpy()
    return Rollups(
        variable_id=stats["variable_id"].to_numpy()[first].astype(np.int16),
        day=stats["day"].to_numpy()[first].astype("datetime64[us]"),
        cell=stats["cell"].to_numpy()[first].astype(np.int64),
        **arrays,
    )
