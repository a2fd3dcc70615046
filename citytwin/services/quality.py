"""The quality stage of one load: validated rows get their quality codes (citytwin.quality).

Each variable whose feed declares `quality` is judged on its stored history (read once per
load, before the load stores anything, so nothing is counted twice) together with every piece
of the load seen so far. A piece reaching further back than the load's first piece is judged
without the stored history of those earlier hours.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from citytwin.db.pool import Connection
from citytwin.db.queries.quality import hourly_history
from citytwin.feeds import FeedDefinition
from citytwin.quality.stage import (
    HOURLY,
    hour_codes,
    hourly,
    policy_of,
    reading_codes,
    transitions,
)


@dataclass
class QualityStage:
    """Quality codes for the pieces of one load of `feed`."""

    feed: FeedDefinition
    seen: dict[str, pd.DataFrame] = field(default_factory=dict)  # variable → hourly sums
    stored: dict[str, pd.Series] = field(default_factory=dict)  # variable → sensor's newest hour
    loaded: dict[str, pd.Series] = field(default_factory=dict)  # the same in the load
    codes: dict[str, pd.DataFrame] = field(default_factory=dict)  # variable → latest hour codes

    async def judge(self, conn: Connection, lock: asyncio.Lock, rows: pd.DataFrame) -> pd.DataFrame:
        """`rows` (validated: sensor_id, time, variable, value) with a `quality` column."""
        codes = np.zeros(len(rows), np.int16)
        for variable, spec in self.feed.variables.items():
            if spec.quality is None:
                continue
            chosen = (rows["variable"] == variable).to_numpy()
            if not chosen.any():
                continue
            part = rows.loc[chosen]
            sensors = part["sensor_id"].astype(str).to_numpy()
            own = hourly(sensors, part["time"], part["value"].to_numpy(float))
            if variable not in self.seen:
                start = part["time"].min() - timedelta(hours=spec.quality.history_hours)
                async with lock:
                    stored = await hourly_history(
                        conn, self.feed.name, variable, start, part["time"].max()
                    )
                self.seen[variable] = stored.astype({"hour": "datetime64[us]"})
                self.stored[variable] = self.seen[variable].groupby("sensor")["hour"].max()
            history = self.seen[variable]
            policy = policy_of(spec, spec.quality)
            hours = await asyncio.to_thread(hour_codes, history, own, policy)
            codes[chosen] = reading_codes(sensors, part["time"], hours)
            self.seen[variable] = pd.concat([history, own[HOURLY]], ignore_index=True)
            newest = own.astype({"hour": "datetime64[us]"}).groupby("sensor")["hour"].max()
            if variable in self.loaded:
                newest = pd.concat([self.loaded[variable], newest]).groupby(level=0).max()
            self.loaded[variable], self.codes[variable] = newest, hours
        return rows.assign(quality=codes)

    def faults(self) -> list[dict]:
        """The faults the load opened or closed (at each sensor's newest hour in the load),
        judged on the whole load: sensor (external id), variable, kind, state, hour."""
        events = []
        for variable, codes in self.codes.items():
            stored = self.stored.get(variable, pd.Series(dtype="datetime64[us]"))
            for event in transitions(codes, stored, self.loaded[variable]):
                events.append({**event, "variable": variable})
        return events
