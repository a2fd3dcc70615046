"""Road traffic on the city's road network: hourly volume and speed of every road.

Traffic detectors are matched to their nearest road; roads without one take the median of the
detected roads of their class at each step, or their class's peak volume times the detectors'
mean daily profile. Documented in docs/models.md, "Traffic air quality".
"""

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

MATCH_DISTANCE = 50.0  # m: farther than this from any road, a detector counts for none
# Motor-traffic road classes with their peak hourly volume (all lanes) and default speed limit.
ROAD_CLASSES = {
    "motorway": (4000.0, 120.0),
    "trunk": (2000.0, 80.0),
    "primary": (1500.0, 50.0),
    "secondary": (800.0, 50.0),
    "tertiary": (500.0, 50.0),
    "unclassified": (300.0, 50.0),
    "residential": (150.0, 30.0),
    "living_street": (50.0, 20.0),
    "service": (50.0, 30.0),
}
FREE_FLOW = 0.9  # share of the speed limit driven where no detector measures speed


@dataclass(frozen=True)
class Traffic:
    """Per (time step, road): volume (veh/h) and mean speed (km/h); per road what set it
    (`detectors:TD001,TD004`, the mean of those, or `class:residential`)."""

    volume: np.ndarray
    speed: np.ndarray
    source: list[str]


def read_roads(base: gpd.GeoDataFrame, epsg: int) -> gpd.GeoDataFrame:
    """The motor-traffic roads of the city's base roads (`id`, `road_class`, `maxspeed`),
    projected to `epsg`: columns road (id), road_class, speed_limit (km/h), length_m; sorted
    by id."""
    ways = base.to_crs(epsg)
    road_class = ways["road_class"].str.removesuffix("_link")
    roads = ways[road_class.isin(ROAD_CLASSES) & ways.geometry.notna()].copy()
    roads["road_class"] = road_class[roads.index]
    default_limit = roads["road_class"].map(lambda name: ROAD_CLASSES[name][1])
    limit = pd.to_numeric(roads["maxspeed"], errors="coerce")
    roads["speed_limit"] = limit.fillna(default_limit).astype(np.float64)
    roads["road"] = roads["id"].astype(str)
    roads["length_m"] = roads.geometry.length
    columns = ["road", "road_class", "speed_limit", "length_m", "geometry"]
    return roads[columns].sort_values("road", kind="stable").reset_index(drop=True)


def match_detectors(roads: gpd.GeoDataFrame, points: pd.DataFrame) -> pd.Series:
    """The index of the nearest road (within MATCH_DISTANCE) of each detector in `points`
    (sensor, x, y in the roads' CRS), by sensor; detectors near no road are left out."""
    if points.empty:
        return pd.Series(dtype=np.int64)
    tree = shapely.STRtree(roads.geometry.to_numpy())
    where = shapely.points(points["x"].to_numpy(), points["y"].to_numpy())
    (detector, road), _ = tree.query_nearest(
        where, max_distance=MATCH_DISTANCE, return_distance=True, all_matches=False
    )
    return pd.Series(road, index=points["sensor"].to_numpy()[detector], name="road").sort_index()


def _by_road(
    means: pd.DataFrame, matched: pd.Series, times: pd.DatetimeIndex, n_roads: int
) -> np.ndarray:
    """(time, road) mean of the matched detectors' step means; NaN where none reports."""
    frame = means[means["sensor"].isin(matched.index)]
    frame = frame.assign(
        road=matched.reindex(frame["sensor"]).to_numpy(),
        time=pd.DatetimeIndex(frame["time"]).tz_localize(None),
    )
    table = frame.groupby(["time", "road"])["value"].mean().unstack("road")
    return table.reindex(index=times, columns=range(n_roads)).to_numpy(np.float64)


def _class_fill(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """`values` with NaNs replaced by the median of the same class at the same step (still NaN
    where no road of the class has a value at that step)."""
    filled = values.copy()
    for name in np.unique(classes):
        members = classes == name
        median = pd.DataFrame(values[:, members]).median(axis=1).to_numpy()
        filled[:, members] = np.where(
            np.isnan(values[:, members]), median[:, None], values[:, members]
        )
    return filled


def daily_profile(detected: np.ndarray) -> np.ndarray:
    """Per step, the mean over detected roads of each road's volume as a share of its own
    peak; half the peak all day when no road is detected."""
    shares = pd.DataFrame(detected / np.nanmax(np.where(np.isnan(detected), 0, detected), 0))
    return shares.replace([np.inf], np.nan).mean(axis=1).fillna(0.5).to_numpy()


def road_traffic(
    roads: gpd.GeoDataFrame,
    times: pd.DatetimeIndex,
    volumes: pd.DataFrame,
    speeds: pd.DataFrame,
) -> Traffic:
    """Volume and speed per step and road from the detectors' step means (`sensor, lon, lat,
    time, value`, as `step_means` gives) of vehicle_count and speed."""
    points = volumes.drop_duplicates("sensor")[["sensor", "lon", "lat"]].sort_values("sensor")
    x, y = shapely.get_coordinates(
        gpd.GeoSeries(gpd.points_from_xy(points["lon"], points["lat"]), crs=4326).to_crs(roads.crs)
    ).T
    matched = match_detectors(roads, points.assign(x=x, y=y))
    classes = roads["road_class"].to_numpy()
    detected = _by_road(volumes, matched, times, len(roads))
    volume = _class_fill(detected, classes)
    peak = roads["road_class"].map(lambda name: ROAD_CLASSES[name][0]).to_numpy()
    volume = np.where(np.isnan(volume), peak[None, :] * daily_profile(detected)[:, None], volume)
    limit = roads["speed_limit"].to_numpy()
    speed = _by_road(speeds, matched, times, len(roads))
    speed = np.where(np.isnan(speed), FREE_FLOW * limit[None, :], np.minimum(speed, limit))
    by_road = matched.groupby(matched.to_numpy()).apply(lambda group: ",".join(group.index))
    source = [
        f"detectors:{by_road[i]}" if i in by_road.index else f"class:{classes[i]}"
        for i in range(len(roads))
    ]
    return Traffic(volume, speed, source)
