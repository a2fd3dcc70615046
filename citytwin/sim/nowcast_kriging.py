"""The observed nowcast by kriging with external drift: station step means onto the grid.

Stations carry what they measure (their declared site type, as a traffic indicator drift term);
grid cells are estimated as background sites, since a 100 m cell average is not a kerbside
micro-environment. The layer's uncertainty variable is the kriging standard deviation.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pandas as pd
from pyproj import Transformer

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.sim.kriging import (
    WINSORIZED,
    KrigingParameters,
    Points,
    krige_step,
    prepared_steps,
    step_fallbacks,
)
from citytwin.sim.scheduler import compute
from citytwin.sim.site_types import traffic_indicator

TIME_CHUNK = 24  # steps per Dask task


@dataclass(frozen=True)
class Stations:
    """Stations of a nowcast: ids, `Points` (drift: traffic site) and (time, station) values."""

    names: list[str]
    points: Points
    values: np.ndarray


def station_table(
    readings: pd.DataFrame, grid: Grid, times: pd.DatetimeIndex, step_seconds: int
) -> Stations:
    """Step means of `readings` (sensor, lon, lat, time, value, optional site_type) per station
    position at each of `times`, positions in the grid's CRS."""
    missing = [name for name in ("sensor", "lon", "lat", "time", "value") if name not in readings]
    if missing:
        raise InvalidParameter("readings", f"missing columns: {', '.join(missing)}")
    frame = readings.dropna(subset=["lon", "lat", "time", "value"]).copy()
    if "site_type" not in frame:
        frame["site_type"] = None
    stamps = pd.to_datetime(frame["time"], utc=True).dt.tz_localize(None)
    frame["time"] = stamps.dt.floor(pd.Timedelta(seconds=step_seconds))
    frame = frame[frame["time"].isin(times)].sort_values(["lon", "lat", "time"], kind="stable")
    places = frame.groupby(["lon", "lat"], sort=True).agg(
        sensor=("sensor", "first"), site_type=("site_type", "first")
    )
    table = frame.pivot_table(index="time", columns=["lon", "lat"], values="value")
    values = table.reindex(index=times, columns=places.index).to_numpy(np.float64)
    lon = places.index.get_level_values("lon").to_numpy()
    lat = places.index.get_level_values("lat").to_numpy()
    x, y = Transformer.from_crs(4326, grid.epsg, always_xy=True).transform(lon, lat)
    drift = traffic_indicator(list(places["site_type"]))[:, None]
    points = Points(np.asarray(x, float), np.asarray(y, float), drift)
    return Stations([str(s) for s in places["sensor"]], points, values)


def _grid_block(
    values: np.ndarray,
    models: list,
    *,
    stations: Points,
    cells: Points,
    shape: tuple[int, int],
    min_stations: int,
) -> np.ndarray:
    """(t, 2, y, x) estimate and kriging standard deviation for a block of steps."""
    out = np.full((len(values), 2, *shape), np.nan, dtype=np.float32)
    for t, row in enumerate(values):
        estimate, variance = krige_step(row, stations, models[t], cells, min_stations)
        out[t, 0] = estimate.reshape(shape)
        out[t, 1] = np.sqrt(np.maximum(variance, 0.0)).reshape(shape)
    return out


def kriging_nowcast(
    stations: Stations,
    grid: Grid,
    times: pd.DatetimeIndex,
    parameters: KrigingParameters,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(time, y, x) estimates and kriging standard deviations on the grid's cell centres, and
    each step's fallbacks."""
    if not np.isfinite(stations.values).any():
        raise InvalidParameter("readings", "no readings inside the time steps")
    gx, gy = np.meshgrid(grid.x, grid.y)
    drift = np.zeros((gx.size, stations.points.drift.shape[1]))  # cells: background sites
    cells = Points(gx.ravel(), gy.ravel(), drift)
    values, models, fitted, winsorized = prepared_steps(
        stations.values, times, stations.points, parameters
    )
    used = [
        sorted(
            step_fallbacks(row, stations.points, ok, parameters.min_stations)
            | ({WINSORIZED} if clipped else set())
        )
        for row, ok, clipped in zip(values, fitted, winsorized, strict=True)
    ]
    blocks = []
    for first in range(0, len(times), TIME_CHUNK):
        part = slice(first, first + TIME_CHUNK)
        block = dask.delayed(_grid_block, pure=True)(
            values[part],
            models[part],
            stations=stations.points,
            cells=cells,
            shape=grid.shape,
            min_stations=parameters.min_stations,
        )
        steps = len(values[part])
        blocks.append(da.from_delayed(block, (steps, 2, *grid.shape), dtype=np.float32))
    result = compute(da.concatenate(blocks, axis=0), scheduler, on_progress)
    return result[:, 0], result[:, 1], used
