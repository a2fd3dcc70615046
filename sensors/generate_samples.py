"""Generate the sample sensor feeds of the Vaduz demo city from its real OSM roads and buildings."""

# Usage: .venv/bin/python sensors/generate_samples.py
# Reads gis_data/{boundary,roads,buildings}.geojson and the ranges in sensors/*.yaml, writes
# sensors/samples/{traffic.csv,air.ndjson,energy_meters.csv,air_bus.csv}. The values are
# simulated, not measured; a fixed seed makes every run write the same bytes.

import csv
import heapq
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import air_truth
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import substring

ROOT = Path(__file__).resolve().parents[1]
GIS_DIR = ROOT / "gis_data"
FEED_DIR = ROOT / "sensors"
OUT_DIR = FEED_DIR / "samples"

SEED = 20261102
START = pd.Timestamp("2026-11-02T00:00:00Z")  # Monday; no public holiday that week
HOURS = 168
LOCAL_TZ = "Europe/Vaduz"
METRIC_CRS = "EPSG:2056"  # CH1903+ / LV95, metres
LONG_HEADER = ["sensor_id", "lon", "lat", "time", "variable", "value", "unit"]
UG = "µg/m³"
NO2_PPB = 1.88  # µg/m³ per ppb, as in sensors/air.yaml

MAIN_CLASSES = ("trunk", "primary", "secondary", "tertiary")
MINOR_CLASSES = ("unclassified", "residential")
MOTOR_CLASSES = (*MAIN_CLASSES, *MINOR_CLASSES, "living_street", "service")
PEAK_VOLUME = {"trunk": 2000, "primary": 1500, "secondary": 800, "tertiary": 500}
PEAK_VOLUME |= {"unclassified": 300, "residential": 150}
DEFAULT_LIMIT = {"trunk": 80, "primary": 50, "secondary": 50, "tertiary": 50}
DEFAULT_LIMIT |= {"unclassified": 50, "residential": 30}
LANE_CAPACITY = 900.0  # veh/h per lane on urban roads with junctions
VEHICLE_LENGTH = 6.5  # effective length seen by a loop detector, m

# Electricity use per m² of floor area and year (kWh), and the daily profile of each use.
INTENSITY = {"residential": 35, "commercial": 90, "office": 70, "school": 40, "industrial": 120}
INTENSITY |= {"hospital": 200, "museum": 150}
PROFILE_OF_USE = {"apartments": "residential", "house": "residential", "residential": "residential"}
PROFILE_OF_USE |= {"commercial": "commercial", "public": "office", "school": "school"}
PROFILE_OF_USE |= {"industrial": "industrial", "hospital": "hospital", "museum": "museum"}
RESIDENTIAL_METERS = 16
DEFAULT_LEVELS = 2
WINTER_FACTOR = 1.15  # November draws more than the yearly mean (lighting, heat pumps)

Ranges = dict[str, tuple[float, float]]
BusReading = tuple[str, Point, pd.Timestamp, dict[str, float]]  # bus, position, time, values


@dataclass(frozen=True)
class City:
    """The demo city in metres: the valley part of its territory (the town), roads, buildings."""

    valley: Polygon
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame


@dataclass(frozen=True)
class Clock:
    """Time stamps of the readings with the local hour (mid-interval) and day of the week."""

    utc: pd.DatetimeIndex
    hour: np.ndarray
    dow: np.ndarray

    @classmethod
    def every(cls, start: pd.Timestamp, periods: int, freq: str, width_h: float) -> "Clock":
        """Readings from `start`, each covering `width_h` hours."""
        utc = pd.date_range(start, periods=periods, freq=freq)
        local = utc.tz_convert(LOCAL_TZ)
        hour = local.hour + local.minute / 60 + width_h / 2
        return cls(utc, np.asarray(hour, dtype=float), np.asarray(local.day_of_week))


def load_city() -> City:
    """The base layers of gis_data, projected to metres."""
    boundary = gpd.read_file(GIS_DIR / "boundary.geojson").to_crs(METRIC_CRS).geometry.iloc[0]
    valley = max(shapely.get_parts(boundary), key=lambda part: part.area)
    roads = gpd.read_file(GIS_DIR / "roads.geojson").to_crs(METRIC_CRS)
    buildings = gpd.read_file(GIS_DIR / "buildings.geojson").to_crs(METRIC_CRS)
    return City(valley, roads, buildings)


def bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian peak over the hour of the day."""
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def window(hour: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """About 1 between `start` and `end`, with logistic edges `edge` hours wide."""
    return 1 / (1 + np.exp(-(hour - start) / edge)) / (1 + np.exp(-(end - hour) / edge))


def to_lonlat(points: list[Point]) -> list[tuple[float, float]]:
    """Metric points as (lon, lat) rounded to 6 decimals."""
    series = gpd.GeoSeries(points, crs=METRIC_CRS).to_crs(4326)
    return [
        (round(float(x), 6), round(float(y), 6)) for x, y in zip(series.x, series.y, strict=True)
    ]


def north_to_south(frame: gpd.GeoDataFrame, prefix: str, digits: int) -> gpd.GeoDataFrame:
    """The rows ordered from north to south and named prefix001, prefix002, ..."""
    frame = frame.iloc[np.argsort(-frame.geometry.y.to_numpy(), kind="stable")]
    return frame.set_axis([f"{prefix}{i + 1:0{digits}d}" for i in range(len(frame))])


# --- traffic ------------------------------------------------------------------------------


def traffic_shape(clock: Clock, morning: float) -> np.ndarray:
    """Relative traffic per reading, about 1 at a weekday rush peak; `morning` skews AM vs PM."""
    h, dow = clock.hour, clock.dow
    evening = 2.0 - morning
    weekday = (
        0.05
        + 0.5 * window(h, 6.0, 20.0, 0.7)
        + 0.55 * morning * bump(h, 7.4, 0.8)
        + 0.5 * evening * bump(h, 17.3, 1.1)
    )
    friday = (
        0.05
        + 0.55 * window(h, 6.0, 21.0, 0.7)
        + 0.45 * morning * bump(h, 7.4, 0.8)
        + 0.55 * evening * bump(h, 16.5, 1.5)
    )
    night_out = 0.06 * bump(h, 0.5, 1.5)
    saturday = 0.05 + 0.6 * window(h, 8.5, 20.0, 1.0) + 0.15 * bump(h, 11.0, 1.5) + night_out
    sunday = 0.04 + 0.4 * window(h, 9.5, 20.0, 1.2) + 0.12 * bump(h, 16.0, 2.0) + night_out
    return np.select([dow < 4, dow == 4, dow == 5], [weekday, friday, saturday], sunday)


def _candidates(roads: gpd.GeoDataFrame, area: Polygon, step: float) -> pd.DataFrame:
    """Points every `step` m along the roads, kept if at least 40 m inside `area`."""
    inner = area.buffer(-40.0)
    rows = []
    for road in roads.itertuples():
        for line in shapely.get_parts(road.geometry):
            for distance in np.arange(step / 2, line.length, step):
                point = line.interpolate(distance)
                if inner.contains(point):
                    rows.append((road.Index, point))
    return pd.DataFrame(rows, columns=["road", "point"])


def _spread(
    candidates: pd.DataFrame, taken: list[Point], count: int, gap: float, rng: np.random.Generator
) -> list[int]:
    """Up to `count` candidate rows, in random order, each `gap` m from all points taken."""
    chosen: list[int] = []
    for i in rng.permutation(len(candidates)):
        point = candidates["point"].iloc[i]
        if all(point.distance(other) >= gap for other in taken):
            chosen.append(int(i))
            taken.append(point)
            if len(chosen) == count:
                break
    return chosen


def place_detectors(city: City, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """30 detectors on the roads of the town, 24 on main roads, spread at least 250 m apart."""
    roads = city.roads[~city.roads.geometry.is_ring]  # no detectors on roundabouts
    main = _candidates(roads[roads["highway"].isin(MAIN_CLASSES)], city.valley, 20.0)
    minor = _candidates(roads[roads["highway"].isin(MINOR_CLASSES)], city.valley, 20.0)
    taken: list[Point] = []
    picks = [main.iloc[_spread(main, taken, 24, 250.0, rng)]]
    picks.append(minor.iloc[_spread(minor, taken, 6, 250.0, rng)])
    chosen = pd.concat(picks, ignore_index=True)
    if len(chosen) != 30:
        raise RuntimeError(f"placed only {len(chosen)} detectors")
    road = city.roads.loc[chosen["road"]].reset_index(drop=True)
    limit = road["maxspeed"].fillna(road["highway"].map(DEFAULT_LIMIT))
    detectors = gpd.GeoDataFrame(
        {
            "highway": road["highway"],
            "limit": limit.astype(float),
            "lanes": road["lanes"].fillna(2).astype(float),
            "road": chosen["road"],
        },
        geometry=list(chosen["point"]),
        crs=METRIC_CRS,
    )
    return north_to_south(detectors, "TD", 3)


def simulate_traffic(
    detectors: gpd.GeoDataFrame, clock: Clock, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Hourly counts, mean speeds and occupancy, each an array (detector, hour)."""
    n, t = len(detectors), len(clock.utc)
    peak = detectors["highway"].map(PEAK_VOLUME).to_numpy(float) * rng.lognormal(0, 0.2, n)
    shape = np.stack([traffic_shape(clock, m) for m in rng.uniform(0.75, 1.25, n)])
    day_factor = np.repeat(rng.lognormal(0, 0.04, (n, t // 24)), 24, axis=1)
    demand = peak[:, None] * shape * day_factor * rng.lognormal(0, 0.07, (n, t))
    capacity = detectors["lanes"].to_numpy()[:, None] * LANE_CAPACITY
    flow = demand / (1 + (demand / capacity) ** 4) ** 0.25  # saturates below capacity
    counts = np.maximum(rng.poisson(flow), 1)  # at least one vehicle keeps speed defined

    limit = detectors["limit"].to_numpy()[:, None]
    free_flow = limit * rng.uniform(0.82, 0.95, (n, 1))
    spread = 0.03 + 0.15 / np.sqrt(counts)  # few vehicles, noisy mean
    speed = free_flow / (1 + 1.2 * (counts / capacity) ** 4)
    speed = speed * (1 + spread * rng.standard_normal((n, t)))
    speed = np.maximum(limit - np.abs(limit - speed), 5.0)  # reflected below the limit
    lane_flow = counts / detectors["lanes"].to_numpy()[:, None]
    occupancy = lane_flow * VEHICLE_LENGTH / (speed * 1000) * 100
    occupancy = np.clip(occupancy * rng.lognormal(0, 0.05, (n, t)), 0, 100)
    return {"vehicle_count": counts.astype(float), "speed": speed, "occupancy": occupancy}


# --- air quality --------------------------------------------------------------------------


def place_air_stations(
    city: City, detectors: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """8 roadside stations 12 m beside main-road detectors and 12 at buildings, 300 m apart."""
    roadside: list[Point] = []
    main = detectors[detectors["highway"].isin(MAIN_CLASSES)]
    for name in sorted(rng.choice(main.index.to_numpy(), 8, replace=False)):
        detector = main.loc[name]
        parts = shapely.get_parts(city.roads.geometry.loc[detector["road"]])
        line = min(parts, key=lambda part: part.distance(detector.geometry))
        along = line.project(detector.geometry)
        ahead = line.interpolate(min(along + 5.0, line.length))
        behind = line.interpolate(max(along - 5.0, 0.0))
        dx, dy = ahead.x - behind.x, ahead.y - behind.y
        side = rng.choice([-1.0, 1.0]) * 12.0 / float(np.hypot(dx, dy))
        roadside.append(Point(detector.geometry.x - dy * side, detector.geometry.y + dx * side))
    inner = city.valley.buffer(-40.0)
    points = city.buildings.representative_point()
    houses = pd.DataFrame({"point": list(points[points.within(inner)])})
    taken = list(roadside)
    background = list(houses["point"].iloc[_spread(houses, taken, 12, 300.0, rng)])
    houses_near = [int(points.distance(p).lt(200).sum()) for p in roadside + background]
    stations = gpd.GeoDataFrame(
        {"houses": houses_near}, geometry=roadside + background, crs=METRIC_CRS
    )
    return north_to_south(stations, "AQ", 2)


def simulate_air(
    city: City,
    stations: gpd.GeoDataFrame,
    detectors: gpd.GeoDataFrame,
    counts: np.ndarray,
    clock: Clock,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Hourly pm25, pm10, no2 and o3 in µg/m³, each an array (station, hour), from the truth's
    own formulation (air_truth.py) on the motor roads' true volumes."""
    roads = city.roads[city.roads["highway"].str.removesuffix("_link").isin(MOTOR_CLASSES)]
    shape = traffic_shape(clock, 1.0)
    volumes = air_truth.road_volumes(roads, detectors, counts, PEAK_VOLUME, shape, rng)
    days = np.asarray((clock.utc - START) / pd.Timedelta(days=1), dtype=float)
    return air_truth.simulate(stations, roads, volumes, clock.hour, clock.dow, days, rng)


# --- energy -------------------------------------------------------------------------------


def ramp(hour: np.ndarray, start: float, end: float, edge: float = 1.0) -> np.ndarray:
    """1 between `start` and `end` local hours, 0 outside, with linear edges `edge` hours wide."""
    rise = np.clip((hour - start) / edge + 0.5, 0, 1)
    fall = np.clip((end - hour) / edge + 0.5, 0, 1)
    return np.minimum(rise, fall)


def energy_shape(profile: str, clock: Clock) -> np.ndarray:
    """Relative power per reading of a building use, before scaling to its yearly energy: the
    generator's own occupancy ramps and harmonics (the energy model has load shapes of its own,
    fitted to nothing here)."""
    h, dow = clock.hour, clock.dow
    workday, saturday = dow < 5, dow == 5
    if profile == "residential":
        morning = np.where(workday, 7.2, 8.8)
        return (
            1
            + 0.3 * np.cos(2 * np.pi * (h - 19.5) / 24)
            + 0.2 * np.cos(4 * np.pi * (h - morning) / 24)
        )
    if profile in ("office", "commercial"):
        shops = np.where(saturday & (profile == "commercial"), 0.6 * ramp(h, 8.0, 16.5), 0.0)
        return 0.35 + np.where(workday, ramp(h, 7.5, 18.5, 1.5), shops)
    if profile == "school":
        return 0.25 + np.where(workday, 0.85 * ramp(h, 7.5, 15.5), 0.0)
    if profile == "industrial":
        return 0.4 + np.where(workday, ramp(h, 6.0, 22.0, 0.5), 0.5 * saturday * ramp(h, 6.0, 12.5))
    if profile == "hospital":
        return 0.75 + np.where(workday, 0.3, 0.12) * ramp(h, 7.0, 19.0, 2.0)
    if profile == "museum":  # closed on Mondays
        return 0.5 + np.where(dow == 0, 0.0, 0.5 * ramp(h, 10.0, 17.0, 0.5))
    raise ValueError(f"no load shape for use {profile!r}")


def choose_meters(city: City, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """All non-residential buildings with a known use, plus residential ones drawn at random."""
    inside = city.buildings[city.buildings.representative_point().within(city.valley)]
    known = inside[inside["building"].isin(PROFILE_OF_USE)].copy()
    known["profile"] = known["building"].map(PROFILE_OF_USE)
    homes = known[known["profile"] == "residential"]
    chosen = pd.concat(
        [
            known[known["profile"] != "residential"],
            homes.iloc[np.sort(rng.choice(len(homes), RESIDENTIAL_METERS, replace=False))],
        ]
    )
    levels = chosen["levels"].fillna(DEFAULT_LEVELS).astype(float)
    meters = gpd.GeoDataFrame(
        {
            "building": [f"Building {b.osm_id} ({b.building})" for b in chosen.itertuples()],
            "profile": chosen["profile"],
            "floor_area": chosen.area * levels,
        },
        geometry=list(chosen.representative_point()),
        crs=METRIC_CRS,
    )
    return north_to_south(meters, "EM", 3)


def simulate_energy(
    meters: gpd.GeoDataFrame, clock: Clock, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly energy (Wh, integer) and mean power (kW) of each meter, arrays (meter, hour)."""
    rows = []
    for meter in meters.itertuples():
        shape = energy_shape(meter.profile, clock)
        mean_kw = INTENSITY[meter.profile] * meter.floor_area / 8760 * WINTER_FACTOR
        sigma = 0.12 if meter.profile == "residential" else 0.05
        rows.append(mean_kw * shape / shape.mean() * rng.lognormal(0, sigma, len(shape)))
    energy_wh = np.round(np.array(rows) * 1000)
    power_kw = energy_wh / 1000 * (1 + rng.normal(0, 0.002, energy_wh.shape))
    return energy_wh, power_kw


# --- bus-mounted sensors ------------------------------------------------------------------


def main_road(city: City) -> LineString:
    """The primary road through the town, north end to south end, as one metric polyline."""
    primary = city.roads[city.roads["highway"] == "primary"]
    graph: dict[tuple[float, float], list[tuple[float, tuple[float, float]]]] = {}
    for line in shapely.get_parts(primary.geometry.clip(city.valley)):
        coords = [tuple(c) for c in line.coords]
        for a, b in itertools.pairwise(coords):
            length = float(np.hypot(a[0] - b[0], a[1] - b[1]))
            graph.setdefault(a, []).append((length, b))
            graph.setdefault(b, []).append((length, a))
    start, goal = max(graph, key=lambda c: c[1]), min(graph, key=lambda c: c[1])
    previous: dict[tuple[float, float], tuple[float, float]] = {}
    best = {start: 0.0}
    queue = [(0.0, start)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == goal:
            break
        for length, other in graph[node]:
            if cost + length < best.get(other, np.inf):
                best[other], previous[other] = cost + length, node
                heapq.heappush(queue, (cost + length, other))
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    route = LineString(path[::-1])
    return substring(route, 60.0, route.length - 60.0)


def bus_positions(route: LineString, clock: Clock, phase: float) -> list[Point]:
    """Back and forth along the route at 18 km/h with 4-minute layovers at both ends."""
    drive = route.length / (18.0 / 3.6)
    cycle = 2 * (drive + 240.0)
    seconds = np.asarray((clock.utc - clock.utc[0]).total_seconds()) + phase * cycle
    points = []
    for moment in seconds % cycle:
        outbound = moment < cycle / 2
        along = min((moment if outbound else moment - cycle / 2) / drive, 1.0) * route.length
        points.append(route.interpolate(along if outbound else route.length - along))
    return points


def simulate_bus(
    route: LineString,
    stations: gpd.GeoDataFrame,
    air: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> list[BusReading]:
    """Readings of BUS1 and BUS2: the station field at the bus, plus the on-road increment."""
    clock = Clock.every(START + pd.Timedelta(hours=6), 85, "10min", 0.0)
    hours = np.asarray((clock.utc - START) / pd.Timedelta(hours=1), dtype=float)
    centres = np.arange(HOURS) + 0.5  # an hourly value stands for the middle of its hour
    readings = []
    for name, phase in (("BUS1", 0.0), ("BUS2", 0.5)):
        points = bus_positions(route, clock, phase)
        for when, hour, point in zip(clock.utc, hours, points, strict=True):
            weight = 1 / np.maximum(stations.distance(point).to_numpy(), 50.0) ** 2
            weight /= weight.sum()
            field = {k: float(np.interp(hour, centres, weight @ air[k])) for k in ("pm25", "no2")}
            values = {
                "pm25": (field["pm25"] + 1.0) * rng.lognormal(0, 0.12),
                "no2": (field["no2"] * 1.25 + 5.0) * rng.lognormal(0, 0.15),
            }
            readings.append((name, point, when, values))
    return readings


# --- output -------------------------------------------------------------------------------


def load_ranges() -> Ranges:
    """The plausible range of every variable of the three feeds, from their definitions."""
    ranges = {}
    for feed in ("traffic", "air", "energy"):
        spec = yaml.safe_load((FEED_DIR / f"{feed}.yaml").read_text(encoding="utf-8"))
        ranges |= {name: tuple(v["range"]) for name, v in spec["variables"].items()}
    return ranges


def check_range(name: str, values: np.ndarray, ranges: Ranges) -> None:
    """Raise if a generated value leaves the feed's plausible range."""
    low, high = ranges[name]
    if not np.all((values >= low) & (values <= high)):
        raise ValueError(f"{name} outside [{low}, {high}]: {values.min()}..{values.max()}")


def utc_text(when: pd.Timestamp) -> str:
    """ISO 8601 UTC with a Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def long_rows(
    ids: list[str],
    lonlat: list[tuple[float, float]],
    clock: Clock,
    series: dict[str, tuple[np.ndarray, str, int]],
) -> Iterator[list[str]]:
    """Canonical long rows per sensor, time and variable; series maps name to (values, unit, dp)."""
    times = [utc_text(t) for t in clock.utc]
    for i, sensor in enumerate(ids):
        lon, lat = f"{lonlat[i][0]:.6f}", f"{lonlat[i][1]:.6f}"
        for j, when in enumerate(times):
            for variable, (values, unit, digits) in series.items():
                yield [sensor, lon, lat, when, variable, f"{values[i, j]:.{digits}f}", unit]


def write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> int:
    """Write a CSV with Unix line ends; returns the number of data rows."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_traffic(
    detectors: gpd.GeoDataFrame, traffic: dict[str, np.ndarray], clock: Clock, ranges: Ranges
) -> int:
    """traffic.csv, canonical long CSV; returns its row count."""
    units = {"vehicle_count": ("veh/h", 0), "speed": ("km/h", 1), "occupancy": ("%", 1)}
    for name, (_, digits) in units.items():
        check_range(name, np.round(traffic[name], digits), ranges)
    series = {name: (traffic[name], *units[name]) for name in units}
    rows = long_rows(list(detectors.index), to_lonlat(list(detectors.geometry)), clock, series)
    return write_csv(OUT_DIR / "traffic.csv", LONG_HEADER, rows)


def write_air(
    stations: gpd.GeoDataFrame, air: dict[str, np.ndarray], clock: Clock, ranges: Ranges
) -> int:
    """air.ndjson with local times, NO2 of AQ16-AQ20 in ppb; returns its line count."""
    for name, values in air.items():
        check_range(name, np.round(values, 1), ranges)
    lonlat = to_lonlat(list(stations.geometry))
    local_times = [t.tz_convert(LOCAL_TZ).isoformat() for t in clock.utc]
    count = 0
    with (OUT_DIR / "air.ndjson").open("w", encoding="utf-8", newline="\n") as handle:
        for i, sensor in enumerate(stations.index):
            for j, when in enumerate(local_times):
                for variable, values in air.items():
                    value, unit = float(values[i, j]), UG
                    if variable == "no2" and i >= 15:
                        value, unit = value / NO2_PPB, "ppb"
                    record = {
                        "sensor_id": sensor,
                        "lon": lonlat[i][0],
                        "lat": lonlat[i][1],
                        "time": when,
                        "variable": variable,
                        "value": round(value, 1),
                        "unit": unit,
                    }
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
    return count


def write_energy(
    meters: gpd.GeoDataFrame,
    clock: Clock,
    ranges: Ranges,
    energy_wh: np.ndarray,
    power_kw: np.ndarray,
) -> int:
    """energy_meters.csv in the feed's `meters` format, local times; returns its row count."""
    check_range("energy_kwh", energy_wh / 1000, ranges)
    check_range("power_kw", np.round(power_kw, 3), ranges)
    lonlat = to_lonlat(list(meters.geometry))
    stamps = [t.tz_convert(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") for t in clock.utc]
    rows = (
        [
            meter,
            name,
            f"{lonlat[i][0]:.6f}",
            f"{lonlat[i][1]:.6f}",
            stamp,
            f"{energy_wh[i, j]:.0f}",
            f"{power_kw[i, j]:.3f}",
        ]
        for i, (meter, name) in enumerate(zip(meters.index, meters["building"], strict=True))
        for j, stamp in enumerate(stamps)
    )
    header = ["meter_id", "building", "longitude", "latitude", "timestamp", "energy_wh", "power_kw"]
    return write_csv(OUT_DIR / "energy_meters.csv", header, rows)


def write_bus(readings: list[BusReading], ranges: Ranges) -> int:
    """air_bus.csv, canonical long CSV with a new position every reading; returns its rows."""
    for name in ("pm25", "no2"):
        check_range(name, np.round([r[3][name] for r in readings], 1), ranges)
    points = to_lonlat([r[1] for r in readings])
    rows = (
        [bus, f"{points[i][0]:.6f}", f"{points[i][1]:.6f}", utc_text(when), name, f"{v:.1f}", UG]
        for i, (bus, _, when, values) in enumerate(readings)
        for name, v in values.items()
    )
    return write_csv(OUT_DIR / "air_bus.csv", LONG_HEADER, rows)


def main() -> None:
    """Generate all four samples: the air truth from a seeded stream of its own, the rest from
    another, so either can change without moving the other."""
    rng = np.random.default_rng(SEED)
    air_rng = np.random.default_rng([SEED, 1])  # the air truth's own stream
    ranges = load_ranges()
    city = load_city()
    clock = Clock.every(START, HOURS, "h", 1.0)
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    detectors = place_detectors(city, rng)
    traffic = simulate_traffic(detectors, clock, rng)
    n_traffic = write_traffic(detectors, traffic, clock, ranges)

    stations = place_air_stations(city, detectors, rng)
    air = simulate_air(city, stations, detectors, traffic["vehicle_count"], clock, air_rng)
    n_air = write_air(stations, air, clock, ranges)

    meters = choose_meters(city, rng)
    n_energy = write_energy(meters, clock, ranges, *simulate_energy(meters, clock, rng))

    n_bus = write_bus(simulate_bus(main_road(city), stations, air, rng), ranges)
    print(f"rows: traffic {n_traffic}, air {n_air}, energy {n_energy}, bus {n_bus}")


if __name__ == "__main__":
    main()
