"""Leave-one-station-out estimates: each station's series estimated from the other stations
only, by the nowcast and by the baselines it must beat.

A method maps the other stations' (steps, stations) values, the step times, their `Points` and
the held-out station's `Points` to its (steps,) estimate. Methods are named once, in `METHODS`.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from citytwin.core.skill import skill_table
from citytwin.sim.kriging import KrigingParameters, Points, krige_steps
from citytwin.sim.nowcast import idw_block

Method = Callable[[np.ndarray, pd.DatetimeIndex, Points, Points], np.ndarray]
CITYTWIN = "citytwin"


def mean_of_others(
    values: np.ndarray, _times: pd.DatetimeIndex, _s: Points, _t: Points
) -> np.ndarray:
    """The mean of the other stations at each step."""
    return _nanmean(values)


def nearest(
    values: np.ndarray, _times: pd.DatetimeIndex, stations: Points, target: Points
) -> np.ndarray:
    """The nearest other station reporting at each step."""
    distance = np.hypot(stations.x - target.x[0], stations.y - target.y[0])
    out = np.full(values.shape[0], np.nan)
    for s in np.argsort(distance, kind="stable")[::-1]:  # nearest last, so it wins
        out = np.where(np.isnan(values[:, s]), out, values[:, s])
    return out


def idw(
    values: np.ndarray, _times: pd.DatetimeIndex, stations: Points, target: Points
) -> np.ndarray:
    """Inverse-distance weighting (power 2), as the IDW nowcast."""
    block = idw_block(
        values, target.y, target.x, sx=stations.x, sy=stations.y, power=2.0, radius=None
    )
    return block[:, 0, 0, 0].astype(np.float64)


def site_type_hour(
    values: np.ndarray, _times: pd.DatetimeIndex, stations: Points, target: Points
) -> np.ndarray:
    """The mean of the other stations of the held-out station's site type (the first drift
    term, a traffic indicator) at each step; all of them where none shares it."""
    if stations.drift.shape[1] == 0 or np.isnan(target.drift[0, 0]):
        return _nanmean(values)
    same = stations.drift[:, 0] == target.drift[0, 0]
    typed = _nanmean(values[:, same]) if same.any() else np.full(values.shape[0], np.nan)
    return np.where(np.isnan(typed), _nanmean(values), typed)


def ordinary_kriging(
    values: np.ndarray, times: pd.DatetimeIndex, stations: Points, target: Points
) -> np.ndarray:
    """Ordinary kriging: the nowcast's variograms without any drift term."""
    bare = Points(stations.x, stations.y, np.empty((len(stations.x), 0)))
    point = Points(target.x, target.y, np.empty((1, 0)))
    return krige_steps(values, times, bare, point, KrigingParameters())[0][:, 0]


def kriging_external_drift(
    values: np.ndarray, times: pd.DatetimeIndex, stations: Points, target: Points
) -> np.ndarray:
    """citytwin's nowcast: kriging with external drift (site type, road terms)."""
    return krige_steps(values, times, stations, target, KrigingParameters())[0][:, 0]


def _nanmean(values: np.ndarray) -> np.ndarray:
    count = np.isfinite(values).sum(axis=1)
    total = np.nansum(values, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


# The nowcast methods by name (citytwin's own is "kriging"), then the baselines.
METHODS: dict[str, Method] = {
    "kriging": kriging_external_drift,
    "idw": idw,
    "ordinary_kriging": ordinary_kriging,
    "site_type_hour": site_type_hour,
    "mean_of_others": mean_of_others,
    "nearest": nearest,
}
BASELINES = ("mean_of_others", "nearest")


def leave_one_out(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    stations: Points,
    names: list[str],
    methods: dict[str, Method],
) -> pd.DataFrame:
    """sensor, time, observed and one column per method: each station's steps (where it
    reported) estimated by each method from the other stations."""
    frames = []
    everyone = np.arange(len(names))
    for held, name in enumerate(names):
        reported = np.isfinite(values[:, held])
        if not reported.any():
            continue
        others = everyone != held
        train, target = values[:, others], stations.take(np.array([held]))
        frame = {"sensor": name, "time": times[reported], "observed": values[reported, held]}
        for method, estimate in methods.items():
            frame[method] = estimate(train, times, stations.take(others), target)[reported]
        frames.append(pd.DataFrame(frame))
    columns = ["sensor", "time", "observed", *methods]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def loso_skill(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    stations: Points,
    names: list[str],
    method: str,
    pollutant: str | None,
) -> dict:
    """The leave-one-station-out table of a nowcast made by `method` (a `METHODS` name, under
    the name citytwin) beside the baselines: scores overall and per station, MQI90."""
    methods = {CITYTWIN: METHODS[method], **{name: METHODS[name] for name in BASELINES}}
    samples = leave_one_out(values, times, stations, names, methods)
    table = skill_table(samples, list(methods), pollutant)
    return {"scheme": "leave-one-station-out", "method": method, **table}
