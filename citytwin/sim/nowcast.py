"""Observed nowcast: sensor readings spread onto the grid by inverse-distance weighting.

Pure functions of their inputs plus a lazy Dask graph chunked over time (and rows of the grid),
so the same code runs on local threads or on any `dask.distributed` cluster.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import dask.array as da
import numpy as np
import pandas as pd
from pyproj import Transformer

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.sim.scheduler import compute

EXACT_WITHIN = 1e-3  # metres: a cell centre this close to a sensor takes the sensor's value
BLOCK_ELEMENTS = 1 << 21  # cells x steps per Dask block: 16 MiB per float64 work array
COLUMNS = ("lon", "lat", "time", "value")


@dataclass(frozen=True)
class IdwParameters:
    """Parameters of the IDW nowcast (all in the layer's provenance)."""

    power: float = 2.0
    search_radius: float | None = None  # metres; None: every sensor counts
    step_seconds: int = 3600

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "method": "idw",
            "power": self.power,
            "search_radius_m": self.search_radius,
            "step_seconds": self.step_seconds,
        }


@dataclass(frozen=True)
class Nowcast:
    """The model's output: values and support (distance to the nearest reporting sensor)."""

    times: pd.DatetimeIndex
    value: np.ndarray  # (time, y, x) float32, NaN where no sensor counts
    support: np.ndarray  # (time, y, x) float32 metres, NaN where no sensor reports


def time_steps(start: datetime, end: datetime, step_seconds: int) -> pd.DatetimeIndex:
    """Step starts (naive UTC) from `start` floored to the step (the city's model step) up to
    `end` (exclusive)."""
    step = pd.Timedelta(seconds=step_seconds)
    first = _naive_utc(pd.Timestamp(start)).floor(step)
    last = _naive_utc(pd.Timestamp(end))
    if last <= first:
        raise InvalidParameter("end", "must be after start")
    return pd.date_range(first, last - pd.Timedelta(1, "ns"), freq=step, name="time")


def _naive_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp if stamp.tzinfo is None else stamp.tz_convert("UTC").tz_localize(None)


def sensor_matrix(
    readings: pd.DataFrame, grid: Grid, times: pd.DatetimeIndex, step_seconds: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sensor positions (x, y in the grid's CRS, sorted) and their mean value per time step
    (time, sensor), NaN where a sensor has none."""
    missing = [name for name in COLUMNS if name not in readings]
    if missing:
        raise InvalidParameter("readings", f"missing columns: {', '.join(missing)}")
    frame = readings.loc[:, list(COLUMNS)].dropna()
    stamps = pd.to_datetime(frame["time"], utc=True).dt.tz_localize(None)
    frame = frame.assign(time=stamps.dt.floor(pd.Timedelta(seconds=step_seconds)))
    frame = frame[frame["time"].isin(times)]
    # Sorted inputs make every sum below run in one order, whatever order the rows came in.
    frame = frame.sort_values(["lon", "lat", "time", "value"], kind="stable")
    positions = frame.groupby(["lon", "lat"], sort=True).ngroup().to_numpy()
    places = frame[["lon", "lat"]].drop_duplicates().to_numpy()
    means = frame.assign(sensor=positions).groupby(["time", "sensor"])["value"].mean()
    values = means.unstack("sensor").reindex(index=times, columns=range(len(places)))
    to_grid = Transformer.from_crs(4326, grid.epsg, always_xy=True)
    sx, sy = to_grid.transform(places[:, 0], places[:, 1]) if len(places) else ([], [])
    return np.asarray(sx, float), np.asarray(sy, float), values.to_numpy(np.float64)


def idw_block(
    values: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    *,
    sx: np.ndarray,
    sy: np.ndarray,
    power: float,
    radius: float | None,
) -> np.ndarray:
    """IDW value and nearest-sensor distance for a block of steps and rows: (t, 2, y, x)."""
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    shape = (values.shape[0], len(ys), len(xs))
    num, den = np.zeros(shape), np.zeros(shape)
    exact_num, exact_den = np.zeros(shape), np.zeros(shape)
    nearest = np.full(shape, np.inf)
    # One pass per sensor, in a fixed order: sums are bit-identical on any scheduler.
    for s in range(len(sx)):
        d = np.hypot(xs[None, :] - sx[s], ys[:, None] - sy[s])
        exact = d <= EXACT_WITHIN
        weight = np.where(exact, 0.0, 1.0 / np.maximum(d, EXACT_WITHIN) ** power)
        if radius is not None:
            weight[d > radius] = 0.0
        num += filled[:, s, None, None] * weight
        den += valid[:, s, None, None] * weight
        if exact.any():
            exact_num += filled[:, s, None, None] * exact
            exact_den += valid[:, s, None, None] * exact
        nearest = np.where(valid[:, s, None, None], np.minimum(nearest, d), nearest)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(exact_den > 0, exact_num / exact_den, num / den)
    nearest[np.isinf(nearest)] = np.nan
    return np.stack([value, nearest], axis=1).astype(np.float32)


def idw_graph(
    values: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    grid: Grid,
    parameters: IdwParameters,
    time_chunk: int = 24,
) -> da.Array:
    """The lazy (time, 2, y, x) array of value and support, chunked over time and rows."""
    time_chunk = max(1, min(time_chunk, values.shape[0]))
    rows = max(1, min(grid.ny, BLOCK_ELEMENTS // (time_chunk * grid.nx)))
    return da.blockwise(
        idw_block,
        "tkyx",
        da.from_array(values, chunks=(time_chunk, max(1, values.shape[1]))),
        "ts",
        da.from_array(grid.y, chunks=rows),
        "y",
        da.from_array(grid.x, chunks=grid.nx),
        "x",
        new_axes={"k": 2},
        concatenate=True,
        dtype=np.float32,
        sx=sx,
        sy=sy,
        power=parameters.power,
        radius=parameters.search_radius,
    )


def idw_nowcast(
    readings: pd.DataFrame,
    grid: Grid,
    times: pd.DatetimeIndex,
    parameters: IdwParameters | None = None,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Nowcast:
    """IDW of `readings` (lon, lat, time, value) onto `grid` at each of `times`; `scheduler` is
    a `dask.distributed` address (None: local threads)."""
    parameters = parameters or IdwParameters()
    if parameters.power <= 0:
        raise InvalidParameter("power", f"{parameters.power} must be positive")
    if parameters.search_radius is not None and parameters.search_radius <= 0:
        raise InvalidParameter("search_radius", "must be a positive number of metres")
    sx, sy, values = sensor_matrix(readings, grid, times, parameters.step_seconds)
    if not np.isfinite(values).any():
        raise InvalidParameter("readings", "no readings inside the time steps")
    result = compute(idw_graph(values, sx, sy, grid, parameters), scheduler, on_progress)
    return Nowcast(times, result[:, 0], result[:, 1])
