"""The traffic air-quality model against the sensors: its background, its calibration factor α
on the road increment, and their skill left one station out.

Background: the mean of the stations declared background or rural (sensor property
`site_type`), which are then left out of the calibration they drive; where no station is so
declared, the declared fallback is a low quantile of every sensor's step means (then the same
sensors are both background and calibration, and the provenance says so).

Calibration: α ≥ 0 minimises Σ (b + α·i − o)² over the calibration stations' step means o.
Its skill is cross-validated: each calibration station is estimated with α and the background
fitted without it, beside the raw (α = 1) model, the background alone and the nowcast's
baselines (mean of the other stations, nearest station).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citytwin.core.grid import Grid
from citytwin.core.skill import scores, skill_table
from citytwin.sim.cross_validation import BASELINES, METHODS, leave_one_out
from citytwin.sim.emissions import POLLUTANTS
from citytwin.sim.nowcast_kriging import station_table
from citytwin.sim.site_types import BACKGROUND, site_class
from citytwin.sim.skill import sample_grid

STATIONS = "background-stations"
QUANTILE = "quantile-of-all-sensors"
PLAUSIBLE_FACTOR = (0.5, 2.0)  # beyond this, α says more about the model than about emissions


@dataclass(frozen=True)
class Background:
    """Per step background concentration, where it comes from, and the sensors it used
    (left out of the calibration when they are declared background stations)."""

    values: np.ndarray
    source: str
    sensors: tuple[str, ...]


def _per_step(series: pd.Series, times: pd.DatetimeIndex) -> np.ndarray:
    """A step series on `times`; steps without a value take the median of the others."""
    filled = series.reindex(times)
    return filled.fillna(series.median() if len(series) else 0.0).to_numpy(np.float64)


def _stamps(frame: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(frame["time"], utc=True)).tz_localize(None)


def background(means: pd.DataFrame, times: pd.DatetimeIndex, quantile: float) -> Background:
    """The background of a pollutant from its sensors' step means (sensor, time, value and
    optional site_type)."""
    kinds = means.get("site_type", pd.Series(None, index=means.index)).map(site_class)
    declared = means[kinds == BACKGROUND]
    if not declared.empty:
        by_step = declared.assign(time=_stamps(declared)).groupby("time")["value"].mean()
        sensors = tuple(sorted(declared["sensor"].unique()))
        return Background(_per_step(by_step, times), STATIONS, sensors)
    by_step = means.assign(time=_stamps(means)).groupby("time")["value"].quantile(quantile)
    return Background(_per_step(by_step, times), QUANTILE, ())


@dataclass(frozen=True)
class Calibration:
    """Per pollutant: the factor on the road increment and its report (fit, skill)."""

    factors: dict[str, float]
    report: dict[str, dict]


def _factor(road: np.ndarray, above: np.ndarray) -> float:
    power = float(np.dot(road, road))
    return max(float(np.dot(road, above)) / power, 0.0) if power > 0 else 1.0


def factor_note(alpha: float) -> str | None:
    """What a factor outside 0.5 to 2 says about the model (None inside)."""
    low, high = PLAUSIBLE_FACTOR
    if low <= alpha <= high:
        return None
    direction = "under" if alpha > high else "over"
    return (
        f"α = {alpha:.2f} lies outside {low}-{high}: the model {direction}states the road "
        f"increment at the sensors {max(alpha, 1 / max(alpha, 1e-9)):.1f}-fold. The sensors see "
        "the roads of their first 100 m at their real distance, so what is left lies in the "
        "emissions (the fleet mix and its factors; roads without detectors carry guessed "
        "volumes), the NO2 chemistry (a fixed share of the NOx), the hour's dispersion regime "
        "(a climatology's wind where no feed measures it) and the background; read the "
        "leave-one-out skill, not α, for how far the model can be trusted"
    )


def _loso(
    samples: pd.DataFrame, means: pd.DataFrame, times: pd.DatetimeIndex, base: Background, q: float
) -> pd.DataFrame:
    """samples with columns citytwin, uncalibrated and background_only: each calibration
    station estimated with α (and a quantile background) fitted without it."""
    steps = np.searchsorted(times.as_unit("s").asi8, _seconds(samples["time"]), "right") - 1
    out = samples.assign(citytwin=np.nan, uncalibrated=np.nan, background_only=np.nan)
    for sensor in samples["sensor"].unique():
        held = (samples["sensor"] == sensor).to_numpy()
        others = means[means["sensor"] != sensor]
        level = base.values if base.source == STATIONS else background(others, times, q).values
        b_all = level[steps]
        road = samples["modelled"].to_numpy()
        alpha = _factor(road[~held], samples["observed"].to_numpy()[~held] - b_all[~held])
        out.loc[held, "citytwin"] = b_all[held] + alpha * road[held]
        out.loc[held, "uncalibrated"] = b_all[held] + road[held]
        out.loc[held, "background_only"] = b_all[held]
    return out


def _seconds(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).tz_localize(None).as_unit("s").asi8


def _baselines(
    means: pd.DataFrame, grid: Grid, times: pd.DatetimeIndex, step_seconds: int
) -> pd.DataFrame:
    """sensor, time (naive UTC) and the nowcast baselines left one station out."""
    stations = station_table(means, grid, times, step_seconds)
    methods = {name: METHODS[name] for name in BASELINES}
    return leave_one_out(stations.values, times, stations.points, stations.names, methods)


def calibrate(
    increment: np.ndarray,
    backgrounds: dict[str, Background],
    observed: dict[str, pd.DataFrame],
    grid: Grid,
    times: pd.DatetimeIndex,
    quantile: float,
    step_seconds: int,
    near: dict[str, np.ndarray] | None = None,
) -> Calibration:
    """α per pollutant over the calibration stations (all but declared background stations),
    its in-sample fit, and its leave-one-station-out skill beside the raw model and the
    baselines; `near` holds, per pollutant, each row of `observed` its near-source correction
    of the grid's road increment (`citytwin.sim.near_source`)."""
    factors, report = {}, {}
    for index, name in enumerate(POLLUTANTS):
        base = backgrounds[name]
        means = observed[name]
        chosen = ~means["sensor"].isin(base.sensors).to_numpy()
        offset = None if near is None else near[name][chosen]
        samples = sample_grid(increment[:, index], grid, times, step_seconds, means[chosen], offset)
        steps = np.searchsorted(times.as_unit("s").asi8, _seconds(samples["time"]), "right") - 1
        b = base.values[steps]
        road = samples["modelled"].to_numpy()
        observed_values = samples["observed"].to_numpy()
        alpha = _factor(road, observed_values - b)
        factors[name] = alpha
        loso = _loso(samples, means, times, base, quantile)
        loso["time"] = _stamps(loso)
        baselines = _baselines(means, grid, times, step_seconds).drop(columns="observed")
        loso = loso.merge(baselines, how="left", on=["sensor", "time"])
        methods = ["citytwin", "uncalibrated", "background_only", *BASELINES]
        skill = skill_table(loso, methods, name)
        report[name] = {
            "factor": alpha,
            "factor_note": factor_note(alpha),
            "background": {"source": base.source, "sensors": list(base.sensors)},
            **scores(observed_values, b + alpha * road),
            "uncalibrated": scores(observed_values, b + road),
            "background_only": scores(observed_values, b),
            "leave_one_out": {
                "scheme": "leave-one-station-out",
                "method": "traffic-air-quality",
                **skill,
            },
        }
    return Calibration(factors, report)
