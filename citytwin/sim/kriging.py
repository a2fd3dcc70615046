"""Kriging with external drift (KED) of station step means, through GSTools.

Each step's value field is a drift (a constant plus external terms known at the stations and
at every target: whether a station is a traffic site, the traffic model's road increment) plus
a spatially correlated residual. The residual's variogram is fitted once per window (a UTC day
by default) to the semivariances of its steps pooled, since one hour holds too few station
pairs to fit a variogram; each step is then kriged with it, and the kriging variance is the
estimate's uncertainty.

Robust residuals: one station far from what its site type predicts (a kerbside site in a street
canyon) would otherwise pass its residual on to every neighbour. Each step's residuals from a
Huber fit of the drift are winsorized at `winsorize_at` robust standard deviations (1.4826 MAD);
whether the winsorized or the plain values are kriged is chosen per series by the
leave-one-station-out error of the stations given (closed form, Dubrule 1983), so a held-out
station never takes part in the choice. Steps whose values were winsorized are recorded.

Declared fallbacks, recorded per step: fewer than `min_stations` stations report (the mean of
the stations, with the drift fitted by least squares when it can be); a drift term that does
not vary among the reporting stations (one site type only: the term is dropped); a drift term
unknown at a reporting station (no metadata: the term is dropped); a day whose variogram cannot
be fitted (an exponential model with the residuals' variance as sill, no nugget, and a range of
a third of the network's extent).
"""

from dataclasses import dataclass

import gstools as gs
import numpy as np
import pandas as pd

FEW_STATIONS = "fewer-stations"
ONE_SITE_TYPE = "drift-constant"
NO_METADATA = "drift-unknown"
DEFAULT_VARIOGRAM = "default-variogram"
WINSORIZED = "winsorized-residuals"
HUBER_STEPS = 5  # reweighting rounds of the robust drift fit
VARIOGRAM_BINS = 6  # equal-count distance classes of station pairs


@dataclass(frozen=True)
class KrigingParameters:
    """Settings of the kriging nowcast (all in the layer's provenance)."""

    min_stations: int = 5
    variogram_window_hours: int = 24
    winsorize_at: float = 2.0

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "method": "kriging-external-drift",
            "library": f"gstools {gs.__version__}",
            "variogram_model": "exponential+nugget",
            "variogram_window_hours": self.variogram_window_hours,
            "min_stations": self.min_stations,
            "residuals": f"winsorized at {self.winsorize_at} robust standard deviations when "
            "that lowers the stations' leave-one-out error, else plain",
        }


@dataclass(frozen=True)
class Points:
    """Positions (metres, a projected CRS) and external drift terms (n, k); NaN: unknown."""

    x: np.ndarray
    y: np.ndarray
    drift: np.ndarray

    def take(self, index: np.ndarray) -> "Points":
        """The points selected by `index` (a mask or indices)."""
        return Points(self.x[index], self.y[index], self.drift[index])


def drift_columns(stations: Points, reporting: np.ndarray) -> tuple[list[int], set[str]]:
    """Drift terms usable at one step, and the fallbacks that dropped the others."""
    keep, fallbacks = [], set()
    for k in range(stations.drift.shape[1]):
        column = stations.drift[reporting, k]
        if np.isnan(column).any():
            fallbacks.add(NO_METADATA)
        elif column.size == 0 or np.ptp(column) == 0:
            fallbacks.add(ONE_SITE_TYPE)
        else:
            keep.append(k)
    return keep, fallbacks


def _design(drift: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(drift)), drift])


def detrend(values: np.ndarray, drift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients of a constant plus `drift` (n, k) and the residuals."""
    design = _design(drift)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    return coefficients, values - design @ coefficients


def fit_variogram(stations: Points, residuals: np.ndarray) -> tuple[gs.CovModel, bool]:
    """An exponential variogram fitted to the pooled semivariances of residual fields (steps,
    stations; NaN where a station did not report), and whether the fit succeeded (else the
    declared default model)."""
    finite = residuals[np.isfinite(residuals)]
    sill = float(finite.var()) if finite.size > 1 else 1.0
    sill = sill if sill > 0 else 1.0
    distances = np.hypot(stations.x[:, None] - stations.x, stations.y[:, None] - stations.y)
    pairs = distances[np.triu_indices(len(stations.x), 1)]
    extent = float(pairs.max()) if pairs.size else 1.0
    default = gs.Exponential(dim=2, var=sill, len_scale=max(extent / 3, 1.0), nugget=0.0)
    if pairs.size < VARIOGRAM_BINS or finite.size < 2 * VARIOGRAM_BINS:
        return default, False
    edges = np.unique(np.quantile(pairs, np.linspace(0, 1, VARIOGRAM_BINS + 1)))
    edges[0], edges[-1] = 0.0, edges[-1] + 1.0
    try:
        centres, gamma = gs.vario_estimate((stations.x, stations.y), residuals, edges)
        model = gs.Exponential(dim=2)
        model.set_arg_bounds(len_scale=[1.0, 10 * extent], var=[0.0, 10 * sill])
        model.fit_variogram(centres, gamma, nugget=True)
    except (RuntimeError, ValueError):
        return default, False
    if not np.all(np.isfinite([model.var, model.len_scale, model.nugget])) or model.sill <= 0:
        return default, False
    return model, True


def step_fallbacks(
    values: np.ndarray, stations: Points, fitted: bool, min_stations: int
) -> set[str]:
    """The declared fallbacks one step's station `values` (NaN: not reporting) lead to."""
    reporting = np.isfinite(values)
    if not reporting.any():
        return set()
    _, names = drift_columns(stations, reporting)
    if reporting.sum() < min_stations:
        names.add(FEW_STATIONS)
    if not fitted:
        names.add(DEFAULT_VARIOGRAM)
    return names


def krige_step(
    values: np.ndarray, stations: Points, model: gs.CovModel, targets: Points, min_stations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and kriging variance at `targets` from one step's station `values` (NaN: not
    reporting); fewer than `min_stations` give the drift fitted by least squares (or the
    mean) and the residuals' mean square as variance."""
    reporting = np.isfinite(values)
    count = int(reporting.sum())
    size = len(targets.x)
    if count == 0:
        return np.full(size, np.nan), np.full(size, np.nan)
    keep, _ = drift_columns(stations, reporting)
    at = stations.take(reporting)
    observed = values[reporting]
    if count < min_stations:
        keep = keep if count > len(keep) + 1 else []
        coefficients, residuals = detrend(observed, at.drift[:, keep])
        estimate = _design(targets.drift[:, keep]) @ coefficients
        spread = float(np.mean(residuals**2)) if count > 1 else float(model.sill)
        return estimate, np.full(size, spread)
    if keep:
        krige = gs.krige.ExtDrift(model, (at.x, at.y), observed, ext_drift=at.drift[:, keep].T)
        return krige((targets.x, targets.y), ext_drift=targets.drift[:, keep].T)
    return gs.krige.Ordinary(model, (at.x, at.y), observed)((targets.x, targets.y))


def window_keys(times: pd.DatetimeIndex, hours: int) -> np.ndarray:
    """The variogram window of each step: whole spans of `hours` since the epoch (UTC)."""
    return np.asarray(times.as_unit("s").asi8 // (3600 * hours))


def residual_fields(values: np.ndarray, stations: Points) -> np.ndarray:
    """(steps, stations) residuals of each step's least-squares drift; NaN where a station did
    not report or a step has too few stations to fit it."""
    out = np.full(values.shape, np.nan)
    for t, row in enumerate(values):
        reporting = np.isfinite(row)
        keep, _ = drift_columns(stations, reporting)
        if reporting.sum() > len(keep) + 1:
            _, out[t, reporting] = detrend(row[reporting], stations.drift[reporting][:, keep])
    return out


def step_variograms(
    values: np.ndarray, times: pd.DatetimeIndex, stations: Points, hours: int
) -> tuple[list[gs.CovModel], list[bool]]:
    """Each step's variogram (fitted over its window) and whether it was fitted."""
    keys = window_keys(times, hours)
    residuals = residual_fields(values, stations)
    fitted = {key: fit_variogram(stations, residuals[keys == key]) for key in np.unique(keys)}
    return [fitted[key][0] for key in keys], [fitted[key][1] for key in keys]


def winsorize(values: np.ndarray, stations: Points, cutoff: float, min_stations: int) -> np.ndarray:
    """(steps, stations) values with each step's residuals from a Huber fit of its drift
    clipped at `cutoff` robust standard deviations; steps with fewer than `min_stations`
    stations unchanged."""
    out = values.copy()
    for t, row in enumerate(values):
        reporting = np.isfinite(row)
        keep, _ = drift_columns(stations, reporting)
        if reporting.sum() < max(min_stations, len(keep) + 2):
            continue
        design, observed = _design(stations.drift[reporting][:, keep]), row[reporting]
        pseudo = observed
        for _ in range(HUBER_STEPS):  # iteratively reweighted: refit to the clipped values
            fit = design @ np.linalg.lstsq(design, pseudo, rcond=None)[0]
            residuals = observed - fit
            scale = 1.4826 * np.median(np.abs(residuals - np.median(residuals)))
            if scale <= 0:
                break
            pseudo = fit + np.clip(residuals, -cutoff * scale, cutoff * scale)
        out[t, reporting] = pseudo
    return out


def loo_errors(values: np.ndarray, stations: Points, models: list[gs.CovModel]) -> np.ndarray:
    """(steps, stations) leave-one-station-out errors of each step's kriging with external
    drift at the stations themselves, from the inverse of the kriging matrix (Dubrule 1983):
    error_i = (K⁻¹ z)_i / (K⁻¹)_ii. NaN where a station did not report."""
    out = np.full(values.shape, np.nan)
    distances = np.hypot(stations.x[:, None] - stations.x, stations.y[:, None] - stations.y)
    for t, row in enumerate(values):
        reporting = np.isfinite(row)
        keep, _ = drift_columns(stations, reporting)
        count = int(reporting.sum())
        if count < len(keep) + 3:
            continue
        design = _design(stations.drift[reporting][:, keep])
        model = models[t]
        matrix = np.zeros((count + design.shape[1],) * 2)
        matrix[:count, :count] = model.covariance(distances[np.ix_(reporting, reporting)])
        matrix[:count, :count] += model.nugget * np.eye(count)
        matrix[:count, count:], matrix[count:, :count] = design, design.T
        inverse = np.linalg.pinv(matrix)
        weights = inverse[:count, :count] @ row[reporting]
        out[t, reporting] = weights / np.diag(inverse)[:count]
    return out


def prepared_steps(
    values: np.ndarray, times: pd.DatetimeIndex, stations: Points, parameters: KrigingParameters
) -> tuple[np.ndarray, list[gs.CovModel], list[bool], np.ndarray]:
    """The values to krige (plain or winsorized, whichever the stations' leave-one-out error
    prefers), their step variograms, whether each was fitted, and the steps winsorized."""
    hours = parameters.variogram_window_hours
    plain = step_variograms(values, times, stations, hours)
    robust = winsorize(values, stations, parameters.winsorize_at, parameters.min_stations)
    changed = np.any(np.abs(np.nan_to_num(robust - values)) > 0, axis=1)
    if not changed.any():
        return values, *plain, changed
    clipped = step_variograms(robust, times, stations, hours)
    # the winsorized kriging is scored against the plain observations it must estimate
    errors = [
        loo_errors(values, stations, plain[0]),
        values - (robust - loo_errors(robust, stations, clipped[0])),
    ]
    plain_mse, robust_mse = (float(np.nanmean(e**2)) for e in errors)
    if not robust_mse < plain_mse:
        return values, *plain, np.zeros(len(values), bool)
    return robust, *clipped, changed


def krige_steps(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    stations: Points,
    targets: Points,
    parameters: KrigingParameters,
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """(steps, targets) estimates and kriging variances from (steps, stations) `values`, with
    each step's fallbacks and notes (sorted names)."""
    values, models, fitted, winsorized = prepared_steps(values, times, stations, parameters)
    estimate = np.full((len(times), len(targets.x)), np.nan)
    variance = np.full_like(estimate, np.nan)
    used = []
    for t, row in enumerate(values):
        estimate[t], variance[t] = krige_step(
            row, stations, models[t], targets, parameters.min_stations
        )
        names = step_fallbacks(row, stations, fitted[t], parameters.min_stations)
        used.append(sorted(names | ({WINSORIZED} if winsorized[t] else set())))
    return estimate, variance, used


def fallback_steps(times: pd.DatetimeIndex, used: list[list[str]]) -> dict[str, list[str]]:
    """Per fallback, the steps (ISO 8601 UTC) that used it: the provenance's record."""
    record: dict[str, list[str]] = {}
    for time, names in zip(times, used, strict=True):
        for name in names:
            record.setdefault(name, []).append(f"{time:%Y-%m-%dT%H:%M:%SZ}")
    return record
