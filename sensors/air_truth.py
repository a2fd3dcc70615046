"""The synthetic truth of the demo air stations: a formulation of its own, not the model's.

citytwin's traffic model (citytwin/sim) disperses road emissions with a directional Gaussian
plume on a grid and is then scored on these stations, so the truth must not be that model:
nothing here imports citytwin (tests/test_demo_truth.py checks it). What differs:

- traffic: every road carries its own true volume (its detector's counts where it holds one,
  else its class's peak volume × a factor of its own × the generator's daily shape);
- near-road increment: an isotropic near-field kernel exp(−r/λ) / (2π·H0·r) around every 5 m
  of road, divided by the wind speed plus a traffic-induced turbulence term (as OSPM keeps a
  street ventilated in calm air), at each station's real distance to each road; no wind
  direction, no grid, no stability classes; and a representativeness factor per station that
  no model can know (street canyons, trees, the monitor's inlet);
- chemistry: NO titrated by ozone over the transit time from the road (NO + O3 → NO2 at
  k = 4.4·10⁻⁴ ppb⁻¹ s⁻¹ at 20 °C), with a primary NO2 share, not an empirical NO2/NOx curve;
- regional background with synoptic variation (a two-day autoregressive log-series, a valley
  inversion and a föhn day) and the measured diurnal shapes of MADRID_SHAPES.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# Diurnal shapes measured at the Madrid municipal network, 2025-08-25 → 09-12 (datos.madrid.es,
# Ayuntamiento de Madrid open data, attribution; read from ../shared/data/real/
# madrid_air_quality): the hourly mean of every station of a type relative to its mean, fitted
# by its first two harmonics: (a1, peak hour of the first, a2, first peak hour of the second).
# Urban background NOx (12 stations) and O3 (8 stations), weekdays and weekends.
MADRID_SHAPES = {
    ("nox", "weekday"): (0.52, 9.3, 0.57, 9.7),
    ("nox", "weekend"): (0.31, 5.7, 0.54, 9.3),
    ("o3", "weekday"): (0.31, 17.7, 0.20, 3.3),
    ("o3", "weekend"): (0.19, 16.8, 0.09, 2.7),
}
NO2_PER_PPB, O3_PER_PPB = 1.88, 2.00  # µg/m³ per ppb at 20 °C
LAMBDA = 90.0  # m: near-road dilution length (NOx near roads halves within ~60-100 m)
H0 = 1.0  # m: depth of the near-ground layer the kerbside emissions first fill
TRAFFIC_TURBULENCE = 0.5  # m/s added to the wind: traffic keeps a street ventilated
NOX_PER_VEHICLE = 0.6  # g NOx (as NO2) per vehicle-km, a fleet average of the truth's own
PRIMARY_NO2 = 0.2  # share of the emitted NOx that leaves the exhaust as NO2
K_NO_O3 = 4.4e-4  # ppb⁻¹ s⁻¹: NO + O3 → NO2 at 20 °C
PM_PER_NOX = 0.035  # exhaust and wear PM2.5 per NOx near the road (mass ratio)
COARSE_PER_NOX = 0.06  # road dust (PM10 − PM2.5) per NOx near the road
REACH = 400.0  # m: road points beyond this add nothing measurable
AGEING_DISTANCE = 30.0  # m: path of the near-road air before the monitor, beyond the kerb
SPACING = 5.0  # m between road points


def harmonics(hour: np.ndarray, shape: tuple[float, float, float, float]) -> np.ndarray:
    """1 + a1·cos(2π(h − p1)/24) + a2·cos(4π(h − p2)/24)."""
    a1, p1, a2, p2 = shape
    return 1 + a1 * np.cos(2 * np.pi * (hour - p1) / 24) + a2 * np.cos(4 * np.pi * (hour - p2) / 24)


def diurnal(kind: str, hour: np.ndarray, dow: np.ndarray) -> np.ndarray:
    """The measured diurnal shape of `kind` (nox, o3) at each local hour and day of week."""
    weekday = harmonics(hour, MADRID_SHAPES[(kind, "weekday")])
    return np.where(dow < 5, weekday, harmonics(hour, MADRID_SHAPES[(kind, "weekend")]))


def synoptic(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Regional accumulation factor: a two-day AR(1) in logs, a valley inversion from Tuesday
    noon to Thursday evening and a föhn on Saturday daytime."""
    step = 1 / 24
    keep = np.exp(-step / 2.0)
    shocks = rng.normal(0, 0.25 * np.sqrt(1 - keep**2), len(days))
    weather = np.zeros(len(days))
    for i in range(1, len(days)):
        weather[i] = keep * weather[i - 1] + shocks[i]
    inversion = 0.6 / (1 + np.exp(-(days - 1.5) / 0.3)) / (1 + np.exp(-(3.8 - days) / 0.3))
    foehn = -0.8 / (1 + np.exp(-(days - 5.2) / 0.1)) / (1 + np.exp(-(5.9 - days) / 0.1))
    return np.exp(weather - weather.mean() + inversion + foehn)


def wind_speed(hour: np.ndarray, stagnation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hourly wind (m/s): afternoon valley breeze, weaker when the air stagnates, gusty."""
    breeze = 1.3 + 1.4 * np.clip(np.cos(2 * np.pi * (hour - 14.0) / 24), 0, None)
    return breeze / stagnation**0.7 * rng.lognormal(0, 0.2, len(hour))


def road_volumes(
    roads: gpd.GeoDataFrame,
    detectors: gpd.GeoDataFrame,
    counts: np.ndarray,
    peak: dict[str, float],
    shape: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(road, hour) true volumes: a detected road's mean counts, else its class peak × a
    factor of its own × the daily shape; roads of other classes (service, tracks) 30 veh/h
    at peak."""
    factor = rng.lognormal(0, 0.35, len(roads))
    base = roads["highway"].map(peak).fillna(30.0).to_numpy(float) * factor
    volumes = base[:, None] * shape[None, :]
    detected = pd.DataFrame(counts).groupby(detectors["road"].to_numpy()).mean()
    position = roads.index.get_indexer(detected.index)
    volumes[position] = detected.to_numpy()
    return volumes


def near_road_weights(
    stations: gpd.GeoDataFrame, roads: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(station, road) Σ exp(−r/λ)/(2π·H0·r)·ds over the points of each road (m⁻¹), and each
    station's distance to its nearest road's kerb (m)."""
    lanes = roads["lanes"].fillna(2).astype(float).to_numpy()
    half_width = 1.75 * lanes
    weights = np.zeros((len(stations), len(roads)))
    kerb = np.full(len(stations), np.inf)
    for j, (line, half) in enumerate(zip(roads.geometry, half_width, strict=True)):
        length = line.length
        along = np.arange(SPACING / 2, length, SPACING) if length > SPACING else [length / 2]
        points = shapely.line_interpolate_point(line, along)
        px, py = shapely.get_coordinates(points).T
        for i, station in enumerate(stations.geometry):
            r = np.hypot(px - station.x, py - station.y)
            near = r < REACH
            if not near.any():
                continue
            r = np.maximum(r[near], half + 1.0)  # the monitor stands on the pavement at least
            weights[i, j] = np.sum(np.exp(-r / LAMBDA) / (2 * np.pi * H0 * r)) * SPACING
            kerb[i] = min(kerb[i], max(line.distance(station) - half, 1.0))
    return weights, kerb


def simulate(
    stations: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    volumes: np.ndarray,
    hour: np.ndarray,
    dow: np.ndarray,
    days: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Hourly pm25, pm10, no2 and o3 in µg/m³, arrays (station, hour)."""
    n, t = len(stations), len(hour)
    stagnation = synoptic(days, rng)
    wind = wind_speed(hour, stagnation, rng)
    weights, kerb = near_road_weights(stations, roads)
    emission = volumes * NOX_PER_VEHICLE / 3600 * 1e3  # µg/s per m of road
    local_factor = rng.lognormal(0, 0.3, (n, 1))  # what no model knows of each site
    dnox = local_factor * (weights @ emission) / (wind + TRAFFIC_TURBULENCE)[None, :]
    dnox = dnox * rng.lognormal(0, 0.15, (n, t))

    nox_bg = 16.0 * stagnation * diurnal("nox", hour, dow) * rng.lognormal(0, 0.06, t)
    o3_bg = 24.0 * diurnal("o3", hour, dow) / np.sqrt(stagnation) * rng.lognormal(0, 0.05, t)
    no2_bg = 0.7 * nox_bg / NO2_PER_PPB  # ppb: aged air is mostly NO2
    o3_bg = np.maximum(o3_bg - 0.3 * no2_bg, 1.0)  # the town's own background titration

    local = dnox / NO2_PER_PPB  # ppb
    transit = (kerb[:, None] + AGEING_DISTANCE) / (wind + TRAFFIC_TURBULENCE)[None, :]
    reacted = np.minimum((1 - PRIMARY_NO2) * local, o3_bg[None, :])
    converted = reacted * (1 - np.exp(-K_NO_O3 * o3_bg[None, :] * transit))
    bias = rng.lognormal(0, 0.04, (n, 1))  # each monitor's calibration
    no2 = bias * (no2_bg[None, :] + PRIMARY_NO2 * local + converted) * NO2_PER_PPB
    no2 = no2 * rng.lognormal(0, 0.06, (n, t))
    o3 = (o3_bg[None, :] - converted) * O3_PER_PPB * rng.lognormal(0, 0.05, (n, t))

    heating = np.exp(-0.5 * ((hour - 20.0) / 2.0) ** 2) + 0.5 * np.exp(
        -0.5 * ((hour - 7.5) / 1.2) ** 2
    )
    houses = np.minimum(stations["houses"].to_numpy() / 30.0, 1.0)[:, None]
    regional_pm = 7.0 * stagnation**1.3 * rng.lognormal(0, 0.08, t)
    pm25 = bias * (regional_pm[None, :] + 5.0 * houses * heating + PM_PER_NOX * dnox)
    pm25 = pm25 * rng.lognormal(0, 0.08, (n, t))
    coarse = (2.5 * stagnation[None, :] + COARSE_PER_NOX * dnox) * rng.lognormal(0, 0.15, (n, t))
    pm10 = np.maximum(pm25 * 1.15 + coarse, pm25 + 0.5)
    return {"pm25": pm25, "pm10": pm10, "no2": no2, "o3": np.maximum(o3, 2.0)}
