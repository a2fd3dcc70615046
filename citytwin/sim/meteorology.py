"""Hourly meteorology driving the models: wind, temperature, mixing height, and where a feed
measures them, cloud cover and solar radiation (for the stability class).

Without a weather feed the models fall back on a climatology: a named, declared day/night
regime per city (the city record's `climatology`; `GENERIC_MID_LATITUDE` when it has none; the
demo city declares its valley's in gis_data/climatology.yaml, docs/models.md "Meteorology").
Scenarios override it.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from citytwin.errors import InvalidParameter


@dataclass(frozen=True)
class Meteorology:
    """Per time step: wind speed (m/s), wind direction (degrees it blows from), air
    temperature (°C) and mixing height (m); cloud cover (octas) and global solar radiation
    (W/m²) where measured (None or NaN: not measured; a climatology declares neither)."""

    wind_speed: np.ndarray
    wind_from: np.ndarray
    temperature: np.ndarray
    mixing_height: np.ndarray
    cloud_octas: np.ndarray | None = None
    solar_radiation: np.ndarray | None = None

    def measured(self, name: str) -> np.ndarray:
        """The measured-only field `name` per step, NaN where not measured."""
        values = getattr(self, name)
        if values is None:
            return np.full(len(self.wind_speed), np.nan)
        return np.asarray(values, dtype=np.float64)

    def replaced(self, steps: np.ndarray, **values: float | None) -> "Meteorology":
        """A copy with the given fields (those not None) set to a constant at the steps where
        `steps` holds."""
        changed = {
            name: np.where(steps, value, getattr(self, name))
            for name, value in values.items()
            if value is not None
        }
        return replace(self, **changed)


@dataclass(frozen=True)
class Climatology:
    """A day/night regime in local time: wind and mixing height by day ([day_start, day_end)
    local hours) and by night; temperature `mean` ± `amplitude`, coolest at `coolest_hour`
    and warmest at `warmest_hour`."""

    name: str
    day_start: float = 9.0
    day_end: float = 18.0
    day_wind_speed: float = 3.0
    day_wind_from: float = 240.0
    day_mixing_height: float = 800.0
    night_wind_speed: float = 2.0
    night_wind_from: float = 240.0
    night_mixing_height: float = 300.0
    mean: float = 10.0
    amplitude: float = 4.0
    coolest_hour: float = 6.0
    warmest_hour: float = 15.0

    @classmethod
    def from_dict(cls, values: dict) -> "Climatology":
        """A climatology from plain values; InvalidParameter naming an unknown key."""
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidParameter("climatology", f"unknown key {unknown[0]!r}")
        if "name" not in values:
            raise InvalidParameter("climatology", "needs a name")
        return cls(**values)

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return asdict(self)


# Westerlies of the mid-latitudes in an autumn month, without terrain: what a city without
# a declared climatology gets, named in every layer's provenance so that it is never hidden.
GENERIC_MID_LATITUDE = Climatology(name="generic-mid-latitude")


def city_climatology(values: dict | None) -> Climatology:
    """The city record's climatology, or GENERIC_MID_LATITUDE when it declares none."""
    return Climatology.from_dict(values) if values else GENERIC_MID_LATITUDE


def climatology_weather(
    times: pd.DatetimeIndex, climatology: Climatology, timezone: str
) -> Meteorology:
    """The climatology's weather at each step (naive UTC starts) in the city's `timezone`."""
    local = times.tz_localize("UTC").tz_convert(timezone)
    hour = np.asarray(local.hour + local.minute / 60, dtype=np.float64)
    day = (hour >= climatology.day_start) & (hour < climatology.day_end)
    # A cosine peaking at the warmest hour and bottoming at the coolest.
    cold, warm = climatology.coolest_hour, climatology.warmest_hour
    phase = np.where(hour < cold, hour + 24, hour)
    warmth = np.where(
        phase <= warm,
        np.cos(np.pi * (warm - phase) / (warm - cold)),
        np.cos(np.pi * (phase - warm) / (24 - warm + cold)),
    )
    return Meteorology(
        wind_speed=np.where(day, climatology.day_wind_speed, climatology.night_wind_speed),
        wind_from=np.where(day, climatology.day_wind_from, climatology.night_wind_from),
        temperature=climatology.mean + climatology.amplitude * warmth,
        mixing_height=np.where(day, climatology.day_mixing_height, climatology.night_mixing_height),
    )
