"""Cell rollups: count, sum, sum of squares, min and max per (variable, bucket, cell).

These five numbers merge exactly (sums add, extremes compare), so rollups of any pieces of data
combine into the rollup of the whole, and mean and standard deviation follow from them.
"""

import numpy as np
import pandas as pd

KEY = ["variable_id", "bucket", "cell"]
COLUMNS = [*KEY, "count", "sum", "sum_sq", "min", "max"]
MERGE = {"count": "sum", "sum": "sum", "sum_sq": "sum", "min": "min", "max": "max"}


def rollup_delta(readings: pd.DataFrame, bucket_seconds: int) -> pd.DataFrame:
    """The rollups of unflagged `readings` (naive-UTC `time`), sorted by key."""
    kept = readings.loc[~readings["flagged"].to_numpy(), ["variable_id", "time", "cell", "value"]]
    step = np.int64(bucket_seconds * 1_000_000)
    micros = kept["time"].to_numpy().astype("datetime64[us]").view(np.int64)
    kept = kept.assign(
        bucket=((micros // step) * step).astype("datetime64[us]"),
        sum_sq=kept["value"] * kept["value"],
    )
    grouped = kept.groupby(KEY, sort=True)
    delta = grouped["value"].agg(["count", "sum", "min", "max"])
    delta["sum_sq"] = grouped["sum_sq"].sum()
    return delta.reset_index()[COLUMNS]


def combine(deltas: list[pd.DataFrame]) -> pd.DataFrame:
    """One rollup per key from rollups of several pieces, sorted by key."""
    if len(deltas) == 1:
        return deltas[0]
    stacked = pd.concat(deltas, ignore_index=True)
    return stacked.groupby(KEY, sort=True).agg(MERGE).reset_index()[COLUMNS]
