"""A layer against the sensors: sampled at each sensor's cell and step, then bias, RMSE and
correlation per sensor and overall."""

import pandas as pd
import xarray as xr

from citytwin.layers.query import grid_of, step_seconds
from citytwin.sim.skill import metrics, sample_grid


def sample_at_sensors(layer: xr.Dataset, variable: str, means: pd.DataFrame) -> pd.DataFrame:
    """sensor, time, observed, modelled: each step mean of `means` (as `step_means` gives)
    beside the layer's value in the grid cell and step holding it; rows off the grid, outside
    the layer's steps or without a modelled value are dropped."""
    starts = pd.DatetimeIndex(layer["time"].values)
    return sample_grid(layer[variable].values, grid_of(layer), starts, step_seconds(layer), means)


def validate(samples: pd.DataFrame) -> dict:
    """Metrics per sensor (sorted by sensor) and over every sample."""
    per_sensor = [
        {"sensor": sensor, **metrics(group["observed"].to_numpy(), group["modelled"].to_numpy())}
        for sensor, group in samples.groupby("sensor", sort=True)
    ]
    overall = metrics(samples["observed"].to_numpy(), samples["modelled"].to_numpy())
    return {"overall": overall, "sensors": per_sensor}
