"""Pasquill stability class per hour from wind speed, solar elevation and cloud cover (Turner's
scheme: Pasquill 1961, Turner 1964; as tabulated in Seinfeld & Pandis, Atmospheric Chemistry and
Physics, table 18.3).

By day the sun's elevation gives the insolation (strong above 60°, moderate from 35°, slight
below), weakened one step when more than 5/8 of the sky is cloudy; by night the cloud cover picks
the column (≥ 4/8 thinly overcast, ≤ 3/8 clear); an overcast sky (8/8) is neutral, D, day or
night. Where the table gives two classes (A-B, B-C, C-D) the first, less stable, is taken.

Where a feed measures the global solar radiation, by day it sets the insolation directly, as in
the solar radiation / ΔT method (US EPA, Meteorological Monitoring Guidance for Regulatory
Modeling Applications, EPA-454/R-99-005, 2000, table 6-7): strong from 925 W/m², moderate from
675, slight from 175, and below that neutral (D); the cloud cover then matters only at night.
"""

import numpy as np
import pandas as pd

CLASSES = ("A", "B", "C", "D", "E", "F")
# Columns: strong, moderate, slight insolation; night ≥ 4/8 cloud; night ≤ 3/8 cloud.
# Rows: wind speed at 10 m below 2, 3, 5, 6 m/s and above.
TABLE = (
    ("A", "A", "B", "E", "F"),
    ("A", "B", "C", "E", "F"),
    ("B", "B", "C", "D", "E"),
    ("C", "C", "D", "D", "D"),
    ("C", "D", "D", "D", "D"),
)
WIND_EDGES = (2.0, 3.0, 5.0, 6.0)
NEUTRAL = "D"
RADIATION_EDGES = (175.0, 675.0, 925.0)  # W/m²: slight, moderate, strong insolation from


def solar_elevation(times: pd.DatetimeIndex, lon: float, lat: float) -> np.ndarray:
    """The sun's elevation (degrees) at the middle of each hour starting at `times` (naive UTC)
    seen from (lon, lat): declination from the day of the year, hour angle from mean solar time
    (the equation of time, at most 16 minutes, is left out)."""
    middle = times + pd.Timedelta(minutes=30)
    day = np.asarray(middle.day_of_year, dtype=np.float64)
    declination = np.radians(23.44) * np.sin(np.radians(360.0 / 365.0 * (284.0 + day)))
    solar_hours = np.asarray(middle.hour + middle.minute / 60, dtype=np.float64) + lon / 15.0
    hour_angle = np.radians(15.0 * (solar_hours - 12.0))
    phi = np.radians(lat)
    sine = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(
        hour_angle
    )
    return np.degrees(np.arcsin(np.clip(sine, -1.0, 1.0)))


def pasquill_class(
    wind_speed: np.ndarray,
    elevation: np.ndarray,
    cloud_octas: np.ndarray,
    solar_radiation: np.ndarray | None = None,
) -> np.ndarray:
    """Class letter (A … F) per hour from wind speed (m/s), solar elevation (degrees), cloud
    cover (octas) and, where measured (not NaN), the global solar radiation (W/m²)."""
    wind = np.asarray(wind_speed, dtype=np.float64)
    sun = np.broadcast_to(np.asarray(elevation, dtype=np.float64), wind.shape)
    cloud = np.broadcast_to(np.asarray(cloud_octas, dtype=np.float64), wind.shape)
    radiation = np.full(wind.shape, np.nan) if solar_radiation is None else solar_radiation
    row = np.searchsorted(WIND_EDGES, wind, side="right")
    table = np.array(TABLE)
    insolation = np.select([sun > 60, sun > 35], [0, 1], 2) + (cloud > 5)  # strong … slight
    measured = 3 - np.searchsorted(RADIATION_EDGES, np.nan_to_num(radiation), side="right")
    insolation = np.where(np.isfinite(radiation), measured, insolation)
    day = np.where(insolation > 2, NEUTRAL, table[row, np.minimum(insolation, 2)])
    night = table[row, np.where(cloud >= 4, 3, 4)]
    overcast = (cloud >= 8) & ~((sun > 0) & np.isfinite(radiation))  # measured sun wins
    return np.where(overcast, NEUTRAL, np.where(sun > 0, day, night))


def needs_cloud(elevation: np.ndarray, solar_radiation: np.ndarray) -> np.ndarray:
    """Per hour, whether the class rests on the cloud cover: at night, or by day where the
    solar radiation is not measured."""
    return (np.asarray(elevation) <= 0) | ~np.isfinite(solar_radiation)
