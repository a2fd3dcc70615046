"""Cell rollups: count, sum, sum of squares, min and max, per (variable, UTC day, cell), with the
same per base bucket of the day in slots.

These numbers merge exactly (sums add, extremes compare), so the rollups of any pieces of data
combine into the rollup of the whole, and mean and standard deviation follow from them.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_MICROSECONDS = 86_400_000_000


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


def _key_changes(*columns: np.ndarray | pd.Series) -> np.ndarray:
    """For sorted keys: True where a row's key differs from the row before (and at row 0)."""
    changed = np.zeros(len(columns[0]), bool)
    changed[:1] = True
    for column in columns:
        values = np.asarray(column)
        changed[1:] |= values[1:] != values[:-1]
    return changed


def _empty_slots(rows: int, slots: int) -> dict[str, np.ndarray]:
    return {
        "slot_count": np.zeros((rows, slots), np.int32),
        "slot_sum": np.zeros((rows, slots)),
        "slot_sum_sq": np.zeros((rows, slots)),
        "slot_min": np.full((rows, slots), np.inf),
        "slot_max": np.full((rows, slots), -np.inf),
    }


def rollup_delta(readings: pd.DataFrame, bucket_seconds: int) -> Rollups:
    """The rollups of the unflagged `readings` (naive-UTC `time`), sorted by key."""
    kept = readings.loc[~readings["flagged"].to_numpy()]
    micros = kept["time"].to_numpy().astype("datetime64[us]").view(np.int64)
    per_bucket = pd.DataFrame(
        {
            "variable_id": kept["variable_id"].to_numpy(),
            "day": micros // DAY_MICROSECONDS,
            "cell": kept["cell"].to_numpy(),
            "slot": (micros % DAY_MICROSECONDS) // (bucket_seconds * 1_000_000),
            "value": kept["value"].to_numpy(),
        }
    )
    per_bucket["value_sq"] = per_bucket["value"] * per_bucket["value"]
    grouped = per_bucket.groupby(["variable_id", "day", "cell", "slot"], sort=True)
    stats = grouped["value"].agg(["count", "sum", "min", "max"]).join(grouped["value_sq"].sum())
    keys = stats.index.to_frame(index=False)
    changed = _key_changes(keys["variable_id"], keys["day"], keys["cell"])
    row = np.cumsum(changed) - 1
    first = np.flatnonzero(changed)
    slots = _empty_slots(len(first), 86_400 // bucket_seconds)
    slot = keys["slot"].to_numpy()
    slots["slot_count"][row, slot] = stats["count"].to_numpy()
    slots["slot_sum"][row, slot] = stats["sum"].to_numpy()
    slots["slot_sum_sq"][row, slot] = stats["value_sq"].to_numpy()
    slots["slot_min"][row, slot] = stats["min"].to_numpy()
    slots["slot_max"][row, slot] = stats["max"].to_numpy()
    return Rollups(
        variable_id=keys["variable_id"].to_numpy()[first].astype(np.int16),
        day=(keys["day"].to_numpy()[first] * DAY_MICROSECONDS).astype("datetime64[us]"),
        cell=keys["cell"].to_numpy()[first].astype(np.int64),
        **slots,
    )


def combine(parts: list[Rollups]) -> Rollups:
    """One rollup row per key from the rollups of several pieces, sorted by key."""
    if len(parts) == 1:
        return parts[0]
    variable_id = np.concatenate([p.variable_id for p in parts])
    day = np.concatenate([p.day for p in parts])
    cell = np.concatenate([p.cell for p in parts])
    order = np.lexsort((cell, day, variable_id))
    variable_id, day, cell = variable_id[order], day[order], cell[order]
    first = np.flatnonzero(_key_changes(variable_id, day, cell))

    def merged(name: str, reduce: np.ufunc) -> np.ndarray:
        stacked = np.concatenate([getattr(p, name) for p in parts])[order]
        return reduce.reduceat(stacked, first, axis=0)

    return Rollups(
        variable_id=variable_id[first],
        day=day[first],
        cell=cell[first],
        slot_count=merged("slot_count", np.add),
        slot_sum=merged("slot_sum", np.add),
        slot_sum_sq=merged("slot_sum_sq", np.add),
        slot_min=merged("slot_min", np.minimum),
        slot_max=merged("slot_max", np.maximum),
    )
