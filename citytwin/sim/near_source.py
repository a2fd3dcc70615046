"""Near-source treatment at receptors: the road increment at a sensor with the roads of its
first NEAR_DISTANCE metres at their real distance, not a grid cell's.

On the grid a road's emissions fill whole cells, and the plume kernel feeds the source's own
cell from half a cell downwind: a monitor 12 m from a kerb reads like one 50 m away. At a
receptor, the road points within NEAR_DISTANCE are therefore taken out of the grid's answer
(each point's emission through the gridded kernel at its cell's offset) and put back as point
sources of the same Gaussian plume at their exact along- and crosswind offsets. Where the hour's
wind direction is not measured (the climatology's), a point source's plume is averaged over all
directions instead (the sector-averaged plume of ISC with one 360° sector): a climatological
direction says where the wind blows on average, not in that hour. Far roads keep the grid's
answer. docs/models.md, "Traffic air quality", has the equations.
"""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from citytwin.core.grid import Grid
from citytwin.sim.dispersion import BRIGGS_URBAN, MIN_WIND_SPEED, PlumeParameters, briggs
from citytwin.sim.dispersion import plume_kernel as gridded_kernel
from citytwin.sim.meteorology import Meteorology

NEAR_DISTANCE = 100.0  # m: receptors this close to a road see it at its real distance
SPACING = 2.0  # m between the point sources along a road
MIN_DISTANCE = 2.0  # m downwind: the vehicles' own wake, where the plume formula starts
INITIAL_SIGMA_Y = 3.0  # m: the crosswind spread of a traffic lane pair by vehicle wakes


def road_points(roads: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every SPACING m along each road (x, y in the roads' CRS), the index of their
    road and the km of road each stands for."""
    lengths = roads.geometry.length.to_numpy()
    counts = np.maximum(np.ceil(lengths / SPACING).astype(np.int64), 1)
    road = np.repeat(np.arange(len(roads)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    step = np.repeat(lengths / counts, counts)
    along = (np.arange(counts.sum()) - first + 0.5) * step
    lines = shapely.line_merge(roads.geometry.to_numpy())
    xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], along))
    return xy, road, step / 1000.0


def point_plume(
    along: np.ndarray,
    across: np.ndarray,
    wind_speed: np.ndarray,
    mixing_height: np.ndarray,
    stability: np.ndarray,
    plume: PlumeParameters,
    direction_known: np.ndarray,
) -> np.ndarray:
    """Ground-level concentration (s/m³) per unit emission of a ground-level point source at
    the given along- and crosswind offsets (m), as the grid's kernel but at exact offsets:
    1 / (√(2π)·u·σy·D) · exp(−c²/2σy²), D = min(√(π/2)·σz, H), zero upwind; where the
    direction is not known, its average over all directions, 1 / (2π·r·u·D) at distance r."""
    distance = np.maximum(np.hypot(along, across), MIN_DISTANCE)
    s = np.where(direction_known, np.maximum(along, MIN_DISTANCE), distance)
    sigma_y = np.empty_like(s)
    sigma_z = np.empty_like(s)
    for name, (curve_y, curve_z) in BRIGGS_URBAN.items():
        chosen = stability == name
        sigma_y[chosen] = briggs(s[chosen], curve_y)
        sigma_z[chosen] = briggs(s[chosen], curve_z)
    sigma_y = np.hypot(INITIAL_SIGMA_Y, sigma_y)
    sigma_z = np.hypot(plume.initial_sigma_z, sigma_z)
    depth = np.minimum(math.sqrt(math.pi / 2) * sigma_z, mixing_height)
    u = np.maximum(wind_speed, MIN_WIND_SPEED)
    value = np.exp(-0.5 * (across / sigma_y) ** 2) / (math.sqrt(2 * math.pi) * u * sigma_y * depth)
    averaged = 1.0 / (2 * math.pi * distance * u * depth)
    return np.where(direction_known, np.where(along > 0, value, 0.0), averaged)


def receptor_correction(
    receptors: pd.DataFrame,
    roads: gpd.GeoDataFrame,
    rates: np.ndarray,
    grid: Grid,
    times: pd.DatetimeIndex,
    weather: Meteorology,
    stability: np.ndarray,
    plume: PlumeParameters,
    direction_known: np.ndarray,
) -> np.ndarray:
    """Per receptor row (lon, lat, time of a step in `times`), what the near roads add to the
    grid's road increment there (µg/m³, one column per pollutant of `rates`, the (time, road,
    pollutant) g/s per km the grid was made from): their point-source plumes at real offsets
    minus their share of the gridded answer. Zero where no road is within NEAR_DISTANCE.
    `direction_known` says per step whether the wind direction was measured."""
    out = np.zeros((len(receptors), rates.shape[2]))
    if receptors.empty or roads.empty:
        return out
    to_grid = Transformer.from_crs(4326, grid.crs, always_xy=True)
    rx, ry = to_grid.transform(receptors["lon"].to_numpy(float), receptors["lat"].to_numpy(float))
    rx, ry = np.asarray(rx), np.asarray(ry)
    stamps = pd.DatetimeIndex(pd.to_datetime(receptors["time"], utc=True)).tz_localize(None)
    step = np.searchsorted(times.as_unit("s").asi8, stamps.as_unit("s").asi8, "right") - 1
    xy, road, km = road_points(roads)
    near = cKDTree(xy).query_ball_point(np.column_stack([rx, ry]), NEAR_DISTANCE)
    row = np.repeat(np.arange(len(near)), [len(points) for points in near])
    point = np.concatenate([np.asarray(points, dtype=np.int64) for points in near])
    keep = (step[row] >= 0) & (step[row] < len(times))
    row, point = row[keep], point[keep]
    if row.size == 0:
        return out
    t = step[row]
    ex, ey = rx[row] - xy[point, 0], ry[row] - xy[point, 1]
    towards = np.radians(weather.wind_from[t] + 180.0)
    along = ex * np.sin(towards) + ey * np.cos(towards)
    across = ex * np.cos(towards) - ey * np.sin(towards)
    classes = np.asarray(stability)[t]
    known = np.asarray(direction_known)[t]
    exact = point_plume(
        along, across, weather.wind_speed[t], weather.mixing_height[t], classes, plume, known
    )
    gridded = _gridded(rx[row], ry[row], xy[point], t, grid, weather, stability, plume)
    emitted = rates[t, road[point], :] * km[point, None]  # g/s
    contribution = emitted * (exact - gridded)[:, None] * 1e6
    np.add.at(out, row, contribution)
    return out


def _gridded(
    rx: np.ndarray,
    ry: np.ndarray,
    points: np.ndarray,
    steps: np.ndarray,
    grid: Grid,
    weather: Meteorology,
    stability: np.ndarray,
    plume: PlumeParameters,
) -> np.ndarray:
    """The gridded kernel's value from each point's cell to its receptor's cell (s/m³)."""
    half = math.ceil(NEAR_DISTANCE / grid.cell_size) + 1
    d_row = np.floor((grid.north - ry) / grid.cell_size) - np.floor(
        (grid.north - points[:, 1]) / grid.cell_size
    )
    d_col = np.floor((rx - grid.west) / grid.cell_size) - np.floor(
        (points[:, 0] - grid.west) / grid.cell_size
    )
    value = np.zeros(len(steps))
    for t in np.unique(steps):
        kernel = gridded_kernel(
            grid.cell_size,
            float(weather.wind_speed[t]),
            float(weather.wind_from[t]),
            float(weather.mixing_height[t]),
            plume,
            half,
            str(stability[t]),
        )
        at = steps == t
        value[at] = kernel[half + d_row[at].astype(int), half + d_col[at].astype(int)]
    return value
