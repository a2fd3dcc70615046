"""The time window a load accepts: readings outside it are rejected by line, never stored.

The store holds 1900 to 2999 whatever the settings (a year-9999 reading would break retention's
partition arithmetic and the map's default time range). Services narrow it around now — a
reading years old or ahead of the clock is a sender's mistake far more often than data — and a
historical back-load says so explicitly with `since`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from citytwin.ingest.verdicts import Rejection

STORE_START = datetime(1900, 1, 1, tzinfo=UTC)
STORE_END = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimeWindow:
    """Readings timed in [start, end) are accepted; `hint` says how to widen the start."""

    start: datetime = STORE_START
    end: datetime = STORE_END
    hint: str = ""

    def split(
        self, frame: pd.DataFrame, keep: int | None = None
    ) -> tuple[pd.DataFrame, list[Rejection], int]:
        """(rows inside the window, a rejection for each of the first `keep` rows outside it
        (None: all), how many rows are outside it)."""
        if frame.empty:
            return frame, [], 0
        times = frame["time"]
        early = (times < pd.Timestamp(self.start)).to_numpy()
        late = (times >= pd.Timestamp(self.end)).to_numpy()
        outside = np.flatnonzero(early | late)
        if not len(outside):
            return frame, [], 0
        lines = frame["line"].to_numpy()
        before = f" is before {_iso(self.start)}{self.hint}"
        after = f" is not before {_iso(self.end)}"
        rejected = [
            Rejection(int(lines[row]), "time", _iso(times[row]) + (before if early[row] else after))
            for row in outside[:keep]
        ]
        return frame[~(early | late)].reset_index(drop=True), rejected, len(outside)


def _iso(time: datetime | pd.Timestamp) -> str:
    # strftime cannot print the years past 9999 this is about
    return (
        f"{time.year:04d}-{time.month:02d}-{time.day:02d}T"
        f"{time.hour:02d}:{time.minute:02d}:{time.second:02d}Z"
    )


def accepted_window(
    now: datetime, past: timedelta, future: timedelta, since: datetime | None = None
) -> TimeWindow:
    """From `now - past` (or `since`, for a back-load) to `now + future`, within the store's
    range."""
    start = max(since if since is not None else now - past, STORE_START)
    hint = "" if since is not None else "; a historical back-load gives since= (--since)"
    return TimeWindow(start, min(now + future, STORE_END), hint)
