"""The quality stage of a load: each reading gets the code of its sensor-hour. Pure.

Checks run on hourly means (`assess`), the grain at which sensors of one network line up in
time. A load's readings are judged together with the stored history before them (hourly sums
and counts), so a streamed batch of one reading is judged as a file of a month is. Hours are
the ones that hold data: a gap shortens the rolling windows rather than inventing hours.
"""

import numpy as np
import pandas as pd

from citytwin.errors import InvalidParameter
from citytwin.feeds.definition import QualitySpec, VariableSpec
from citytwin.quality.checks import KINDS, Policy, assess

HOURLY = ["sensor", "hour", "sum", "count"]


def policy_of(spec: VariableSpec, quality: QualitySpec) -> Policy:
    """The checks' thresholds for a variable declaring `quality`."""
    bounds = spec.range if spec.range is not None else (-np.inf, np.inf)
    return Policy(
        bounds=(float(bounds[0]), float(bounds[1])),
        spike_floor=quality.spike_floor,
        bias_floor=quality.bias_floor,
    )


def hourly(sensors: np.ndarray, times: pd.Series, values: np.ndarray) -> pd.DataFrame:
    """Sums and counts of `values` per (sensor, UTC hour)."""
    frame = pd.DataFrame(
        {
            "sensor": sensors,
            "hour": times.dt.tz_convert("UTC").dt.floor("h").dt.tz_localize(None),
            "sum": values,
            "count": 1,
        }
    )
    return frame.groupby(["sensor", "hour"], as_index=False, observed=True)[["sum", "count"]].sum()


def hour_codes(history: pd.DataFrame, own: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Codes per hour (rows) and sensor (columns) of the hourly means of history and own."""
    both = pd.concat([history[HOURLY], own[HOURLY]], ignore_index=True)
    totals = both.groupby(["hour", "sensor"], observed=True)[["sum", "count"]].sum()
    means = (totals["sum"] / totals["count"]).unstack("sensor").sort_index()
    return assess(means, policy)


def reading_codes(sensors: np.ndarray, times: pd.Series, codes: pd.DataFrame) -> np.ndarray:
    """Each reading's code: that of its sensor at its UTC hour."""
    hours = times.dt.tz_convert("UTC").dt.floor("h").dt.tz_localize(None)
    row = codes.index.get_indexer(hours)
    column = codes.columns.get_indexer(sensors)
    found = (row >= 0) & (column >= 0)
    out = np.zeros(len(sensors), np.int16)
    out[found] = codes.to_numpy()[row[found], column[found]]
    return out


def kind_counts(codes: np.ndarray) -> dict[str, int]:
    """How many readings hold each kind of fault (kinds with none left out)."""
    counts = {kind: int(((codes & bit) != 0).sum()) for kind, bit in KINDS.items()}
    return {kind: count for kind, count in counts.items() if count}


def kind_names(code: int) -> list[str]:
    """The kinds of fault a code holds."""
    return [kind for kind, bit in KINDS.items() if code & bit]


def quality_mask(text: str) -> int:
    """A `quality` filter as a mask: `good` 0 (no fault), `flagged` any fault, or kinds."""
    if text == "good":
        return 0
    if text == "flagged":
        return sum(KINDS.values())
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in KINDS]
    if unknown or not names:
        known = ", ".join(["good", "flagged", *KINDS])
        raise InvalidParameter("quality", f"{text!r}: expected one of {known} (kinds by comma)")
    return sum(KINDS[name] for name in names)
