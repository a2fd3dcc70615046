"""Meteorology from the weather feeds where they report, a declared climatology where not.

Wind speed is the mean of the stations reporting in a step, the direction their vector mean
(unit vectors: a station's speed is not paired with its direction); a step without both takes
the climatology's wind. Temperature and mixing height (a feed's boundary-layer height) are the
mean of the stations reporting, the climatology's where none does; each quantity's
climatology steps are listed under its own fallback name. Cloud cover and solar radiation have
no climatology here: they stay NaN where no feed measures them (the stability scheme then takes
its declared cloud cover, `citytwin.sim.stability`).
"""

from dataclasses import replace

import numpy as np
import pandas as pd

from citytwin.sim.meteorology import Meteorology

CLIMATOLOGY_WIND = "climatology-wind"
MIN_MIXING_HEIGHT = 50.0  # m: a shallower measured layer is taken as this (the urban canopy)
# Feed variable → (Meteorology field, factor to the field's unit, fallback name or None when
# the field has no climatology).
FEEDS = {
    "temperature": ("temperature", 1.0, "climatology-temperature"),
    "boundary_layer_height": ("mixing_height", 1.0, "climatology-mixing-height"),
    "cloud_cover": ("cloud_octas", 8.0 / 100.0, None),  # % of the sky → octas
    "solar_radiation": ("solar_radiation", 1.0, None),
}
WEATHER_READINGS = ("wind_speed", "wind_direction", *FEEDS)


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


def _iso(times: pd.DatetimeIndex) -> list[str]:
    return [f"{time:%Y-%m-%dT%H:%M:%SZ}" for time in times]


def observed_meteorology(
    times: pd.DatetimeIndex,
    readings: dict[str, pd.DataFrame | None],
    climatology: Meteorology,
) -> tuple[Meteorology, dict[str, list[str]]]:
    """The meteorology of `times` from the step means of the weather feeds in `readings` (by
    feed variable; absent or None: no feed), and per fallback name the steps (ISO 8601 UTC)
    that took the climatology."""
    speed = _per_step(readings.get("wind_speed"), times, "speed")
    direction = _per_step(readings.get("wind_direction"), times, "direction")
    observed = np.isfinite(speed) & np.isfinite(direction)
    fields = {
        "wind_speed": np.where(observed, speed, climatology.wind_speed),
        "wind_from": np.where(observed, direction, climatology.wind_from),
    }
    gaps = {CLIMATOLOGY_WIND: _iso(times[~observed])}
    for variable, (name, factor, fallback) in FEEDS.items():
        measured = _per_step(readings.get(variable), times, "mean") * factor
        if name == "mixing_height":
            measured = np.maximum(measured, MIN_MIXING_HEIGHT)  # NaN stays NaN
        if fallback is None:
            fields[name] = measured
            continue
        found = np.isfinite(measured)
        fields[name] = np.where(found, measured, getattr(climatology, name))
        gaps[fallback] = _iso(times[~found])
    return replace(climatology, **fields), gaps


def weather_sources(present: set[str]) -> dict[str, str]:
    """Where each weather quantity comes from, given the feed variables with readings: the
    provenance's record."""
    feeds, climatology = "weather feeds, climatology in their gaps", "climatology"
    return {
        "wind": feeds if {"wind_speed", "wind_direction"} <= present else climatology,
        "temperature": feeds if "temperature" in present else climatology,
        "mixing_height": feeds if "boundary_layer_height" in present else climatology,
        "cloud_cover": "weather feeds, the declared cloud cover in their gaps"
        if "cloud_cover" in present
        else "the declared cloud cover",
        "solar_radiation": "weather feeds (the insolation by day)"
        if "solar_radiation" in present
        else "not measured (the insolation from the sun's elevation and the cloud)",
    }
