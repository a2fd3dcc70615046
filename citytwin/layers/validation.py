"""A layer against the sensors: sampled at each sensor's cell and step, then bias, RMSE and
correlation per sensor and overall."""

import numpy as np
import pandas as pd
import xarray as xr

from citytwin.core.grid import Grid
from citytwin.layers.query import grid_of, step_seconds


def sample_at_sensors(layer: xr.Dataset, variable: str, means: pd.DataFrame) -> pd.DataFrame:
    """sensor, time, observed, modelled: each step mean of `means` (as `step_means` gives)
    beside the layer's value in the grid cell and step holding it; rows off the grid, outside
    the layer's steps or without a modelled value are dropped."""
    starts = pd.DatetimeIndex(layer["time"].values)
    return sample_grid(layer[variable].values, grid_of(layer), starts, step_seconds(layer), means)


def sample_grid(
    values: np.ndarray,
    grid: Grid,
    starts: pd.DatetimeIndex,
    step_seconds: int,
    means: pd.DataFrame,
) -> pd.DataFrame:
    """As `sample_at_sensors`, for (time, y, x) `values` on `grid` with steps from `starts`
    (naive UTC) of `step_seconds`."""
    row, col, inside = grid.index_of(means["lon"].to_numpy(), means["lat"].to_numpy())
    first = starts.as_unit("s").asi8
    times = pd.DatetimeIndex(pd.to_datetime(means["time"], utc=True)).tz_localize(None)
    seconds = times.as_unit("s").asi8
    step = np.searchsorted(first, seconds, "right") - 1
    inside &= (step >= 0) & (seconds < first[-1] + step_seconds)
    rows = pd.DataFrame(
        {
            "sensor": means["sensor"].to_numpy()[inside],
            "time": pd.to_datetime(means["time"], utc=True).to_numpy()[inside],
            "observed": means["value"].to_numpy(dtype=np.float64)[inside],
            "modelled": values[step[inside], row[inside], col[inside]].astype(np.float64),
        }
    )
    return rows.dropna(subset=["observed", "modelled"]).reset_index(drop=True)


def metrics(observed: np.ndarray, modelled: np.ndarray) -> dict:
    """n, bias (mean of modelled - observed), RMSE and Pearson correlation (None below two
    pairs or without variance)."""
    n = int(observed.size)
    if n == 0:
        return {"n": 0, "bias": None, "rmse": None, "correlation": None}
    error = modelled - observed
    correlation = None
    if n > 1 and np.std(observed) > 0 and np.std(modelled) > 0:
        correlation = float(np.corrcoef(observed, modelled)[0, 1])
    return {
        "n": n,
        "bias": float(error.mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "correlation": correlation,
    }


def validate(samples: pd.DataFrame) -> dict:
    """Metrics per sensor (sorted by sensor) and over every sample."""
    per_sensor = [
        {"sensor": sensor, **metrics(group["observed"].to_numpy(), group["modelled"].to_numpy())}
        for sensor, group in samples.groupby("sensor", sort=True)
    ]
    overall = metrics(samples["observed"].to_numpy(), samples["modelled"].to_numpy())
    return {"overall": overall, "sensors": per_sensor}
