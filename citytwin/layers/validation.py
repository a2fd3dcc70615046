"""A layer against the sensors it was made from (in-sample): sampled at each sensor's cell and
step, then bias, RMSE, correlation (and the MQI) per sensor and overall."""

import pandas as pd
import xarray as xr

from citytwin.core.skill import Uncertainty, scores
from citytwin.layers.selection import grid_of, step_seconds
from citytwin.sim.skill import sample_grid


def sample_at_sensors(layer: xr.Dataset, variable: str, means: pd.DataFrame) -> pd.DataFrame:
    """sensor, time, observed, modelled: each step mean of `means` (as `step_means` gives)
    beside the layer's value in the grid cell and step holding it; rows off the grid, outside
    the layer's steps or without a modelled value are dropped."""
    starts = pd.DatetimeIndex(layer["time"].values)
    return sample_grid(layer[variable].values, grid_of(layer), starts, step_seconds(layer), means)


def validate(samples: pd.DataFrame, uncertainty: Uncertainty | None = None) -> dict:
    """Scores per sensor (sorted by sensor) and over every sample (with FAIRMODE's MQI and
    target terms when `uncertainty` is given)."""
    per_sensor = [
        {"sensor": sensor, **scores(group["observed"], group["modelled"], uncertainty)}
        for sensor, group in samples.groupby("sensor", sort=True)
    ]
    overall = scores(samples["observed"], samples["modelled"], uncertainty)
    return {"overall": overall, "sensors": per_sensor}
