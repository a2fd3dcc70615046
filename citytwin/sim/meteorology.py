"""Hourly meteorology driving the models: wind, temperature and mixing height.

No weather feed is part of the demo city, so the default is a documented valley climatology of
the Alpine Rhine valley in November (docs/models.md, "Meteorology"); scenarios override it.
"""

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

LOCAL_TIMEZONE = "Europe/Vaduz"
DAY_HOURS = (9, 18)  # local hours [start, end) of the up-valley (daytime) regime


@dataclass(frozen=True)
class Meteorology:
    """Per time step: wind speed (m/s), wind direction (degrees it blows from), air
    temperature (°C) and mixing height (m)."""

    wind_speed: np.ndarray
    wind_from: np.ndarray
    temperature: np.ndarray
    mixing_height: np.ndarray

    def replaced(self, steps: np.ndarray, **values: float | None) -> "Meteorology":
        """A copy with the given fields (those not None) set to a constant at the steps where
        `steps` holds."""
        changed = {
            name: np.where(steps, value, getattr(self, name))
            for name, value in values.items()
            if value is not None
        }
        return replace(self, **changed)


def valley_climatology(times: pd.DatetimeIndex) -> Meteorology:
    """November in the Rhine valley at Vaduz: a down-valley wind from the south-south-west at
    night (1.5 m/s, shallow 150 m mixing layer) turning up-valley from the north-north-east by
    day (3 m/s, 600 m); temperature 5 °C ± 3 °C, coolest at 06 and warmest at 15 local time."""
    local = times.tz_localize("UTC").tz_convert(LOCAL_TIMEZONE)
    hour = np.asarray(local.hour + local.minute / 60, dtype=np.float64)
    day = (hour >= DAY_HOURS[0]) & (hour < DAY_HOURS[1])
    # A cosine peaking at 15 h and bottoming at 03 h, pulled towards the 06 h minimum.
    phase = np.where(hour < 6, hour + 24, hour)
    warmth = np.where(
        phase <= 15, np.cos(np.pi * (15 - phase) / 9), np.cos(np.pi * (phase - 15) / 15)
    )
    return Meteorology(
        wind_speed=np.where(day, 3.0, 1.5),
        wind_from=np.where(day, 20.0, 200.0),
        temperature=5.0 + 3.0 * warmth,
        mixing_height=np.where(day, 600.0, 150.0),
    )
