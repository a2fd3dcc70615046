"""The twin's state from the latest readings: flags per sensor, aggregates per H3 cell. No I/O."""

from datetime import datetime

import numpy as np
import pandas as pd

from citytwin.feeds import FeedRegistry
from citytwin.feeds.definition import parse_interval
from citytwin.quality.checks import RANGE
from citytwin.quality.stage import kind_names
from citytwin.query.cells import parents, to_hex
from citytwin.twin import flags

# What the store gives per (sensor, variable); `time` and `prev_time` are UTC-aware.
LATEST_COLUMNS = [
    "sensor_id",
    "feed",
    "external_id",
    "name",
    "lon",
    "lat",
    "variable",
    "time",
    "value",
    "flagged",
    "cell",
    "prev_time",
    "prev_value",
    "run_length",
    "quality",
]
CELL_COLUMNS = ["cell", "variable", "time", "mean", "count", "stale", "suspect"]


def _rules(feeds: FeedRegistry) -> pd.DataFrame:
    """Per (feed, variable): expected interval (s), range floor and fastest change per hour."""
    rows = [
        {
            "feed": feed.name,
            "variable": name,
            "interval": parse_interval(feed.expected_interval).total_seconds(),
            "floor": flags.floor_of(spec),
            "max_rate": flags.max_rate_of(spec),
        }
        for feed in feeds.values()
        for name, spec in feed.variables.items()
    ]
    return pd.DataFrame(rows, columns=["feed", "variable", "interval", "floor", "max_rate"])


def latest_frame(records: list[dict]) -> pd.DataFrame:
    """The store's latest-reading rows as a frame with UTC times (also when there are none)."""
    frame = pd.DataFrame(records, columns=LATEST_COLUMNS)
    for column in ("time", "prev_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["quality"] = frame["quality"].fillna(0)
    return frame.astype(
        {"value": float, "prev_value": float, "flagged": bool, "cell": np.int64, "quality": int}
    )


def sensor_state(latest: pd.DataFrame, feeds: FeedRegistry, now: datetime) -> pd.DataFrame:
    """`latest` with its age (s) and flags: stale, stuck, jump and suspect (stuck or jump)."""
    state = latest.merge(_rules(feeds), on=["feed", "variable"], how="left")
    state["age_s"] = (pd.Timestamp(now) - state["time"]).dt.total_seconds()
    hours = (state["time"] - state["prev_time"]).dt.total_seconds() / 3600
    state["stale"] = flags.stale(state["age_s"].to_numpy(), state["interval"].to_numpy())
    state["stuck"] = flags.stuck(
        state["run_length"].to_numpy(), state["value"].to_numpy(), state["floor"].to_numpy()
    )
    state["jump"] = flags.jump(
        state["value"].to_numpy(),
        state["prev_value"].to_numpy(),
        hours.to_numpy(),
        state["max_rate"].to_numpy(),
    )
    state["suspect"] = state["stuck"] | state["jump"]
    return state


def cell_state(state: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """Per cell at `resolution` and variable: the newest time, the mean of the sensors' latest
    values (out-of-range ones left out), and how many sensors report, are stale, are suspect."""
    if state.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    frame = pd.DataFrame(
        {
            "cell": parents(state["cell"].to_numpy(np.int64), resolution),
            "variable": state["variable"].to_numpy(),
            "time": state["time"],
            "kept": state["value"].where(~state["flagged"]),
            "stale": state["stale"].astype(int),
            "suspect": state["suspect"].astype(int),
        }
    )
    grouped = frame.groupby(["cell", "variable"], sort=True)
    cells = grouped.agg(
        time=("time", "max"),
        mean=("kept", "mean"),
        count=("time", "size"),
        stale=("stale", "sum"),
        suspect=("suspect", "sum"),
    )
    return cells.reset_index()[CELL_COLUMNS]


def _iso(times: pd.Series) -> list[str]:
    return [] if times.empty else times.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()


def sensor_documents(state: pd.DataFrame, units: dict[str, str | None]) -> list[dict]:
    """The sensors' latest readings as JSON-ready dicts."""
    reasons = [
        [reason for reason, on in (("stuck", stuck), ("jump", jump)) if on]
        for stuck, jump in zip(state["stuck"], state["jump"], strict=True)
    ]
    codes = state["quality"].astype(int)
    flagged = pd.DataFrame(
        {
            "stale": state["stale"],
            "suspect": reasons,
            "out_of_range": (codes & RANGE) != 0,
            "quality": [kind_names(code) for code in codes.tolist()],
        }
    )
    documents = pd.DataFrame(
        {
            "sensor": state["sensor_id"].astype(int),
            "feed": state["feed"],
            "external_id": state["external_id"],
            "name": state["name"],
            "lon": state["lon"],
            "lat": state["lat"],
            "h3": [to_hex(cell) for cell in state["cell"].tolist()],
            "variable": state["variable"],
            "value": state["value"],
            "unit": state["variable"].map(units),
            "time": _iso(state["time"]),
            "age_s": state["age_s"],
            "flags": flagged.to_dict("records"),
        }
    )
    return documents.to_dict("records")


def cell_documents(cells: pd.DataFrame, units: dict[str, str | None]) -> list[dict]:
    """Cell states as JSON-ready dicts (H3 as hex)."""
    documents = pd.DataFrame(
        {
            "h3": [to_hex(cell) for cell in cells["cell"].tolist()],
            "variable": cells["variable"],
            "unit": cells["variable"].map(units),
            "time": _iso(cells["time"]),
            "mean": cells["mean"],  # NaN: null in JSON (orjson)
            "count": cells["count"].astype(int),
            "stale": cells["stale"].astype(int),
            "suspect": cells["suspect"].astype(int),
        }
    )
    return documents.to_dict("records")
