"""The traffic air-quality model against the sensors: its background, its calibration factor α
on the road increment, and their skill left one station out.

Background: the mean of the stations declared background or rural (sensor property
`site_type`), which are then left out of the calibration they drive; where no station is so
declared, the declared fallback is a low quantile of every sensor's step means (then the same
sensors are both background and calibration, and the provenance says so).

Calibration: α ≥ 0 minimises Σ (b + Δ(α·i) − o)² over the calibration stations' step means
o, with Δ the identity for PM and the NO2 the roads' NOx α·i adds for NO2 (`no2_chemistry`,
on the hour's background ozone where measured: its upper quartile over the ozone sensors, or
the declared background stations' mean, as the NO2's lower quartile).
Its skill is cross-validated: each calibration station is estimated with α and the background
fitted without it, beside the raw (α = 1) model, the background alone and the nowcast's
baselines (mean of the other stations, nearest station).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from citytwin.core.grid import Grid
from citytwin.core.skill import scores, skill_table
from citytwin.sim.cross_validation import BASELINES, METHODS, leave_one_out
from citytwin.sim.emissions import POLLUTANTS, FleetMix, primary_no2_share
from citytwin.sim.no2_chemistry import DERWENT_MIDDLETON, OZONE_LIMITED, no2_added
from citytwin.sim.nowcast_kriging import station_table
from citytwin.sim.site_types import BACKGROUND, site_class
from citytwin.sim.skill import sample_grid

STATIONS = "background-stations"
QUANTILE = "quantile-of-all-sensors"
PLAUSIBLE_FACTOR = (0.5, 2.0)  # beyond this, α says more about the model than about emissions
FACTOR_SEARCH = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 241)])  # α of a nonlinear fit
# Δ(α, increment, background, ozone): what the roads add at the sensors for a factor α.
Added = Callable[[float, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Background:
    """Per step background concentration, where it comes from, and the sensors it used
    (left out of the calibration when they are declared background stations)."""

    values: np.ndarray
    source: str
    sensors: tuple[str, ...]


def ozone_background(
    means: pd.DataFrame | None, times: pd.DatetimeIndex, quantile: float, without: str = ""
) -> np.ndarray:
    """The hour's background ozone (µg/m³) from the ozone sensors' step means, the sensor
    `without` left out: the declared background stations' mean, else the upper `quantile`
    of all (ozone is titrated near roads, so its background is the high side); NaN in hours
    without a reading (never filled: those hours take the Derwent-Middleton fallback)."""
    if means is None or means.empty:
        return np.full(len(times), np.nan)
    means = means[means["sensor"] != without]
    kinds = means.get("site_type", pd.Series(None, index=means.index)).map(site_class)
    declared = means[kinds == BACKGROUND]
    stamped = (declared if not declared.empty else means).assign(time=_stamps)
    by_step = stamped.groupby("time")["value"]
    level = by_step.mean() if not declared.empty else by_step.quantile(1 - quantile)
    return level.reindex(times).to_numpy(np.float64)


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


def linear(alpha: float, road: np.ndarray, _b: np.ndarray, _o3: np.ndarray) -> np.ndarray:
    """Δ of a passive pollutant: α times the road increment."""
    return alpha * road


def no2_response(primary_share: float) -> Added:
    """Δ of NO2: what α times the roads' NOx adds (`no2_chemistry.no2_added`)."""

    def added(alpha: float, road: np.ndarray, b: np.ndarray, ozone: np.ndarray) -> np.ndarray:
        return no2_added(alpha * road, b, ozone, primary_share)

    return added


def _factor(
    added: Added, road: np.ndarray, b: np.ndarray, ozone: np.ndarray, observed: np.ndarray
) -> float:
    """α ≥ 0 of least squares: in closed form for a linear Δ, else the best of a log-spaced
    search refined by a bounded scalar minimisation between its neighbours."""
    if added is linear:
        power = float(np.dot(road, road))
        return max(float(np.dot(road, observed - b)) / power, 0.0) if power > 0 else 1.0

    def loss(alpha: float) -> float:
        return float(np.sum((b + added(alpha, road, b, ozone) - observed) ** 2))

    best = int(np.argmin([loss(alpha) for alpha in FACTOR_SEARCH]))
    last = FACTOR_SEARCH.size - 1
    low, high = FACTOR_SEARCH[max(best - 1, 0)], FACTOR_SEARCH[min(best + 1, last)]
    refined = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(refined.x) if refined.fun <= loss(FACTOR_SEARCH[best]) else FACTOR_SEARCH[best]


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
        "volumes), the NO2 chemistry (ozone-limited or Derwent-Middleton), the hour's "
        "dispersion regime (a climatology's wind where no feed measures it) and the "
        "background; read the "
        "leave-one-out skill, not α, for how far the model can be trusted"
    )


@dataclass(frozen=True)
class Chemistry:
    """What NO2 needs beyond its own sensors: the ozone sensors' step means (None: none) and
    the fleet's primary NO2 share."""

    ozone: pd.DataFrame | None
    primary_share: float


def _loso(
    samples: pd.DataFrame,
    means: pd.DataFrame,
    times: pd.DatetimeIndex,
    base: Background,
    q: float,
    added: Added,
    ozone: pd.DataFrame | None,
) -> pd.DataFrame:
    """samples with columns citytwin, uncalibrated and background_only: each calibration
    station estimated with α, a quantile background and the ozone fitted without it."""
    steps = np.searchsorted(times.as_unit("s").asi8, _seconds(samples["time"]), "right") - 1
    out = samples.assign(citytwin=np.nan, uncalibrated=np.nan, background_only=np.nan)
    road = samples["modelled"].to_numpy()
    observed = samples["observed"].to_numpy()
    for sensor in samples["sensor"].unique():
        held = (samples["sensor"] == sensor).to_numpy()
        others = means[means["sensor"] != sensor]
        level = base.values if base.source == STATIONS else background(others, times, q).values
        b = level[steps]
        o3 = ozone_background(ozone, times, q, without=sensor)[steps]
        alpha = _factor(added, road[~held], b[~held], o3[~held], observed[~held])
        out.loc[held, "citytwin"] = b[held] + added(alpha, road[held], b[held], o3[held])
        out.loc[held, "uncalibrated"] = b[held] + added(1.0, road[held], b[held], o3[held])
        out.loc[held, "background_only"] = b[held]
    return out


def _chemistry_note(chemistry: Chemistry, times: pd.DatetimeIndex, quantile: float) -> dict:
    """How NO2 was made from NOx: the relations and the hours each served."""
    measured = np.isfinite(ozone_background(chemistry.ozone, times, quantile))
    return {
        "relation": f"{OZONE_LIMITED} where ozone is measured, else {DERWENT_MIDDLETON}",
        "primary_no2_share": round(chemistry.primary_share, 4),
        "hours": {OZONE_LIMITED: int(measured.sum()), DERWENT_MIDDLETON: int((~measured).sum())},
    }


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
    chemistry: Chemistry | None = None,
) -> Calibration:
    """α per pollutant over the calibration stations (all but declared background stations),
    its in-sample fit, and its leave-one-station-out skill beside the raw model and the
    baselines; `near` holds, per pollutant, each row of `observed` its near-source correction
    of the grid's road increment (`citytwin.sim.near_source`); NO2 is made from the NOx
    increment under `chemistry` (default: no ozone sensors, the fleet's primary share)."""
    chemistry = chemistry or Chemistry(None, primary_no2_share(FleetMix()))
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
        no2 = name == "no2"
        added = no2_response(chemistry.primary_share) if no2 else linear
        ozone = chemistry.ozone if no2 else None
        o3 = ozone_background(ozone, times, quantile)[steps]
        alpha = _factor(added, road, b, o3, observed_values)
        factors[name] = alpha
        loso = _loso(samples, means, times, base, quantile, added, ozone)
        loso["time"] = _stamps(loso)
        baselines = _baselines(means, grid, times, step_seconds).drop(columns="observed")
        loso = loso.merge(baselines, how="left", on=["sensor", "time"])
        methods = ["citytwin", "uncalibrated", "background_only", *BASELINES]
        skill = skill_table(loso, methods, name)
        report[name] = {
            **({"chemistry": _chemistry_note(chemistry, times, quantile)} if no2 else {}),
            "factor": alpha,
            "factor_note": factor_note(alpha),
            "background": {"source": base.source, "sensors": list(base.sensors)},
            **scores(observed_values, b + added(alpha, road, b, o3)),
            "uncalibrated": scores(observed_values, b + added(1.0, road, b, o3)),
            "background_only": scores(observed_values, b),
            "leave_one_out": {
                "scheme": "leave-one-station-out",
                "method": "traffic-air-quality",
                **skill,
            },
        }
    return Calibration(factors, report)
