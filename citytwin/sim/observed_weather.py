"""Meteorology from the weather feeds where they report, a declared climatology where not.

Wind speed is the mean of the stations reporting in a step, the direction their vector mean
(unit vectors: a station's speed is not paired with its direction); a step without both takes
the climatology's wind, and is listed. Temperature and mixing height stay the climatology's
until a feed measures them.
"""

from dataclasses import replace

import numpy as np
import pandas as pd

from citytwin.sim.meteorology import Meteorology

CLIMATOLOGY_WIND = "climatology-wind"


def _per_step(means: pd.DataFrame | None, times: pd.DatetimeIndex, how: str) -> np.ndarray:
    if means is None or means.empty:
        return np.full(len(times), np.nan)
    stamps = pd.DatetimeIndex(pd.to_datetime(means["time"], utc=True)).tz_localize(None)
    frame = means.assign(time=stamps)
    if how == "direction":
        radians = np.radians(frame["value"].to_numpy(np.float64))
        frame = frame.assign(east=np.sin(radians), north=np.cos(radians))
        vector = frame.groupby("time")[["east", "north"]].mean().reindex(times)
        degrees = np.degrees(np.arctan2(vector["east"], vector["north"])) % 360.0
        calm = np.hypot(vector["east"], vector["north"]) < 1e-9  # opposite winds cancel
        return np.where(calm, np.nan, degrees.to_numpy())
    return frame.groupby("time")["value"].mean().reindex(times).to_numpy(np.float64)


def observed_meteorology(
    times: pd.DatetimeIndex,
    wind_speed: pd.DataFrame | None,
    wind_direction: pd.DataFrame | None,
    climatology: Meteorology,
) -> tuple[Meteorology, list[str]]:
    """The meteorology of `times` from the step means of the wind feeds (None: no feed), and
    the steps (ISO 8601 UTC) that took the climatology's wind."""
    speed = _per_step(wind_speed, times, "speed")
    direction = _per_step(wind_direction, times, "direction")
    observed = np.isfinite(speed) & np.isfinite(direction)
    weather = replace(
        climatology,
        wind_speed=np.where(observed, speed, climatology.wind_speed),
        wind_from=np.where(observed, direction, climatology.wind_from),
    )
    gaps = [f"{time:%Y-%m-%dT%H:%M:%SZ}" for time in times[~observed]]
    return weather, gaps
