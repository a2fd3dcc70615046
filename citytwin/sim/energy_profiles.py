"""Tables of the building energy model: uses, intensities, weekly load profiles, PV day curve.

The load shapes are the model's own (the sample meters are generated with shapes of their own,
`sensors/samples/README.md`), evaluated at mid-hour of the local clock and normalised to a
weekly mean of 1.
"""

from functools import cache

import numpy as np

ENERGY_USES = (
    "residential",
    "office",
    "commercial",
    "school",
    "industrial",
    "public",
    "hospital",
    "museum",
    "other",
)
# OSM `building` tag -> use. "yes" (no specific tag) counts as residential, the commonest use
# in town; tags not listed (garage, roof, greenhouse, shed, barn, ...) are "other".
USE_OF_TAG = {tag: "residential" for tag in ("yes", "residential", "apartments", "house")}
USE_OF_TAG |= {tag: "residential" for tag in ("detached", "semidetached_house", "terrace")}
USE_OF_TAG |= {"dormitory": "residential", "office": "office", "commercial": "commercial"}
USE_OF_TAG |= {tag: "commercial" for tag in ("retail", "supermarket", "kiosk", "hotel")}
USE_OF_TAG |= {tag: "school" for tag in ("school", "kindergarten", "college", "university")}
USE_OF_TAG |= {tag: "industrial" for tag in ("industrial", "manufacture", "warehouse")}
USE_OF_TAG |= {tag: "public" for tag in ("public", "civic", "government", "townhall")}
USE_OF_TAG |= {tag: "public" for tag in ("cathedral", "church", "chapel", "fire_station")}
USE_OF_TAG |= {"hospital": "hospital", "museum": "museum"}

# kWh per m² of floor area and year; the sample meters' intensities, public as office.
INTENSITY = {"residential": 35.0, "office": 70.0, "commercial": 90.0, "school": 40.0}
INTENSITY |= {"industrial": 120.0, "public": 70.0, "hospital": 200.0, "museum": 150.0}
INTENSITY |= {"other": 10.0}
# Share of the demand that is space heating in the heating season (1980-2000 building, default
# temperature).
HEATING_FRACTION = {"residential": 0.5, "office": 0.35, "commercial": 0.3, "school": 0.5}
HEATING_FRACTION |= {"industrial": 0.2, "public": 0.4, "hospital": 0.3, "museum": 0.35}
HEATING_FRACTION |= {"other": 0.0}
# Demand of each month relative to the yearly mean (twelve months average 1; November 1.15).
MONTHLY_FACTOR = (1.2, 1.15, 1.1, 1.0, 0.85, 0.8, 0.8, 0.8, 0.9, 1.05, 1.15, 1.2)
# PV: kWh per kWp and day (about 1,080 kWh/kWp a year) and day length (h) at 47.1° N, by month.
PV_DAILY_YIELD = (1.3, 2.0, 3.0, 3.9, 4.2, 4.4, 4.6, 4.1, 3.3, 2.2, 1.3, 1.0)
DAY_LENGTH = (8.7, 10.0, 11.6, 13.4, 14.9, 15.7, 15.4, 14.0, 12.3, 10.6, 9.1, 8.3)
# The default outdoor temperature: a November daily cycle of the Rhine valley, °C.
TEMPERATURE_MEAN, TEMPERATURE_AMPLITUDE = 5.0, 3.0
COLDEST_HOUR, WARMEST_HOUR = 6.0, 15.0  # local clock

HOURS = np.arange(24) + 0.5  # mid-hour of the local clock
DAYS = np.arange(7)  # Monday = 0


def bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian peak over the hour of the day."""
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def window(hour: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """About 1 between `start` and `end`, with logistic edges `edge` hours wide."""
    return 1 / (1 + np.exp(-(hour - start) / edge)) / (1 + np.exp(-(end - hour) / edge))


def load_shape(use: str, h: np.ndarray, dow: np.ndarray) -> np.ndarray:
    """Relative power of a use at local hour `h` on day of week `dow` (unnormalised)."""
    workday, saturday = dow < 5, dow == 5
    if use == "residential":
        late = np.where(workday, 0.0, 1.5)  # weekend mornings start later
        return (
            0.45
            + 0.5 * bump(h, 7.0 + late, 1.0 + late / 2)
            + 0.25 * window(h, 10.0, 16.0, 1.0) * np.where(workday, 0.6, 1.4)
            + 1.0 * bump(h, 19.0, 1.6)
            + 0.3 * bump(h, 21.5, 1.0)
        )
    if use in ("office", "public", "commercial"):  # shops also open on Saturdays
        shops = np.where(saturday & (use == "commercial"), 0.5 * window(h, 8.5, 17.0, 0.5), 0.0)
        return 0.3 + np.where(workday, window(h, 7.0, 18.0, 0.6), shops)
    if use == "school":
        return 0.2 + np.where(workday, 0.9 * window(h, 7.3, 16.0, 0.4), 0.0)
    if use == "industrial":  # two shifts on weekdays, Saturday mornings
        return (
            0.35
            + np.where(workday, window(h, 6.0, 22.0, 0.3), 0.0)
            + np.where(saturday, 0.5 * window(h, 7.0, 12.0, 0.3), 0.0)
        )
    if use == "hospital":
        return 0.7 + np.where(workday, 0.3, 0.15) * window(h, 7.5, 18.5, 0.8)
    if use == "museum":  # open Tuesday to Sunday 10-17, climate control all the time
        return 0.45 + np.where(dow == 0, 0.0, 0.55 * window(h, 9.5, 17.3, 0.3))
    if use == "other":  # garages, roofs, greenhouses: lighting and small loads around the clock
        return np.ones(np.broadcast_shapes(np.shape(h), np.shape(dow)))
    raise ValueError(f"no load shape for use {use!r}")


@cache
def profile_table(uses: tuple[str, ...]) -> np.ndarray:
    """(use, day of week, local hour) relative power, each use's weekly mean exactly 1."""
    shapes = np.stack([load_shape(use, HOURS[None, :], DAYS[:, None]) for use in uses])
    table = shapes / shapes.mean(axis=(1, 2), keepdims=True)
    table.flags.writeable = False  # shared by the cache
    return table


def daylight_fraction(start: np.ndarray, hours: float, day_length: np.ndarray) -> np.ndarray:
    """Share of a clear day's PV energy in the steps from solar hour `start`, `hours` long.

    Power follows sin(π (s − sunrise) / L) over the day of length L centred on solar noon, so
    the share is the exact integral over the step: zero at night, summing to 1 over a day.
    """
    sunrise = 12.0 - day_length / 2
    a = np.clip(start, sunrise, sunrise + day_length)
    b = np.clip(start + hours, sunrise, sunrise + day_length)
    return (
        np.cos(np.pi * (a - sunrise) / day_length) - np.cos(np.pi * (b - sunrise) / day_length)
    ) / 2


def temperature_cycle(hour: np.ndarray) -> np.ndarray:
    """The default temperature (°C) at local `hour`: coldest at 06, warmest at 15."""
    rise = WARMEST_HOUR - COLDEST_HOUR
    # Two half-cosines (9 h warming, 15 h cooling): continuous, daily mean exactly the mean.
    since_cold = (hour - COLDEST_HOUR) % 24
    warming = -np.cos(np.pi * since_cold / rise)
    cooling = np.cos(np.pi * ((hour - WARMEST_HOUR) % 24) / (24 - rise))
    return TEMPERATURE_MEAN + TEMPERATURE_AMPLITUDE * np.where(since_cold < rise, warming, cooling)
