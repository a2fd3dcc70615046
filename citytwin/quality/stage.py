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


def _totals(
    sensors: np.ndarray, hours: np.ndarray, sums: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sums and counts per (hour, sensor) as two hour × sensor arrays, with the sorted hours
    and the sensors: by bincount over factorised keys, no pandas groupby on strings."""
    sensor_code, sensor_names = pd.factorize(sensors, sort=True)
    hour_code, hour_values = pd.factorize(hours, sort=True)
    shape = (len(hour_values), len(sensor_names))
    key = hour_code * shape[1] + sensor_code
    total = np.bincount(key, weights=sums, minlength=shape[0] * shape[1]).reshape(shape)
    count = np.bincount(key, weights=counts, minlength=shape[0] * shape[1]).reshape(shape)
    return np.asarray(hour_values), np.asarray(sensor_names), total, count


def hourly(sensors: np.ndarray, times: pd.Series, values: np.ndarray) -> pd.DataFrame:
    """Sums and counts of `values` per (sensor, UTC hour)."""
    hours = times.dt.tz_convert("UTC").dt.floor("h").dt.tz_localize(None).to_numpy()
    hour_values, sensor_names, total, count = _totals(sensors, hours, values, np.ones(len(values)))
    hour, sensor = np.nonzero(count)
    return pd.DataFrame(
        {
            "sensor": sensor_names[sensor],
            "hour": hour_values[hour],
            "sum": total[hour, sensor],
            "count": count[hour, sensor].astype(np.int64),
        }
    )


def hour_codes(history: pd.DataFrame, own: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Codes per hour (rows) and sensor (columns) of the hourly means of history and own."""
    both = pd.concat([history[HOURLY], own[HOURLY]], ignore_index=True)
    hour_values, sensor_names, total, count = _totals(
        both["sensor"].to_numpy(),
        both["hour"].to_numpy("datetime64[ns]"),
        both["sum"].to_numpy(float),
        both["count"].to_numpy(float),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(count > 0, total / count, np.nan)
    return assess(pd.DataFrame(means, index=hour_values, columns=sensor_names), policy)


def reading_codes(sensors: np.ndarray, times: pd.Series, codes: pd.DataFrame) -> np.ndarray:
    """Each reading's code: that of its sensor at its UTC hour."""
    hours = times.dt.tz_convert("UTC").dt.floor("h").dt.tz_localize(None)
    row = codes.index.get_indexer(hours)
    column = codes.columns.get_indexer(sensors)
    found = (row >= 0) & (column >= 0)
    out = np.zeros(len(sensors), np.int16)
    out[found] = codes.to_numpy()[row[found], column[found]]
    return out


# The kinds whose opening and closing are fault events (range is validation's, per reading).
EPISODES = {kind: bit for kind, bit in KINDS.items() if kind != "range"}


def transitions(codes: pd.DataFrame, before: pd.Series, after: pd.Series) -> list[dict]:
    """The faults that opened or closed in a load: per sensor (`after`: its newest hour in the
    load; `before`: its newest stored hour before the load, missing for a new sensor), each kind
    held at one hour of `codes` and not at the other. Sensors whose load reached no further
    than their stored hours (a late file) are left out: their state did not move on."""
    held = before.reindex(after.index)
    moved = after[held.isna().to_numpy() | (after > held).to_numpy()]
    column = codes.columns.get_indexer(moved.index)
    now = codes.to_numpy()[codes.index.get_indexer(moved.to_numpy()), column]
    was_row = codes.index.get_indexer(before.reindex(moved.index).to_numpy())
    was = np.where(was_row >= 0, codes.to_numpy()[was_row, column], 0)
    events = []
    for sensor, hour, new, old in zip(moved.index, moved.to_numpy(), now, was, strict=True):
        for kind, bit in EPISODES.items():
            if bool(new & bit) != bool(old & bit):
                state = "open" if new & bit else "closed"
                events.append({"sensor": str(sensor), "kind": kind, "state": state, "hour": hour})
    return events


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
