"""Skill of estimates against measurements: bias, RMSE, correlation and the FAIRMODE modelling
quality indicator (MQI) with its target-diagram terms, per station and over all stations.

The MQI follows the FAIRMODE Guidance Document on Modelling Quality Objectives and Benchmarking
(Janssen & Thunis, version 3.3, 2022; JRC):

    U(O) = U_r^RV · √((1 − α²)·O² + α²·RV²)          measurement uncertainty of a value O
    MQI  = RMSE / (β · RMS_U),  β = 2,  RMS_U = √(mean U(O)²)

met when MQI ≤ 1, for at least 90 % of the stations (MQI90: the 90th-percentile station). The
target diagram splits MQI² into a bias term (y = BIAS / β·RMS_U) and a centred term
(x = CRMSE / β·RMS_U, negative when the error is dominated by correlation, positive when by
standard deviation).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

BETA = 2.0  # FAIRMODE's β: the model may deviate twice the measurement uncertainty


@dataclass(frozen=True)
class Uncertainty:
    """FAIRMODE measurement-uncertainty parameters of one pollutant, and the averaging its
    MQI is computed on ("hour" or "day")."""

    u_rv: float  # relative uncertainty at the reference value, U_r^RV
    alpha: float  # share of the uncertainty that does not scale with the value
    rv: float  # reference value, µg/m³ (the limit value)
    averaging: str

    def of(self, observed: np.ndarray) -> np.ndarray:
        """U(O) of each observed value."""
        return self.u_rv * np.sqrt((1 - self.alpha**2) * observed**2 + self.alpha**2 * self.rv**2)

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "u_rv": self.u_rv,
            "alpha": self.alpha,
            "rv": self.rv,
            "beta": BETA,
            "averaging": self.averaging,
        }


# Guidance v3.3 (2022), Table 1: hourly NO2 and O3 (O3 officially on its 8-hour daily maximum;
# hourly values are scored here, the same U applies), daily PM10 and PM2.5. (Version 2.1 of 2017
# had α = 0.13 for PM10 and 0.30 for PM2.5; v3.3's values are the current ones.)
FAIRMODE: dict[str, Uncertainty] = {
    "no2": Uncertainty(0.24, 0.20, 200.0, "hour"),
    "o3": Uncertainty(0.18, 0.79, 120.0, "hour"),
    "pm10": Uncertainty(0.28, 0.25, 50.0, "day"),
    "pm25": Uncertainty(0.36, 0.50, 25.0, "day"),
}
MIN_DAY_COVERAGE = 0.75  # a daily mean needs 18 of 24 hours (the EU directive's 75 % rule)


def scores(
    observed: np.ndarray, modelled: np.ndarray, uncertainty: Uncertainty | None = None
) -> dict:
    """n, bias (mean of modelled − observed), RMSE, Pearson r (None below two pairs or without
    variance), standard deviations, centred RMSE; with `uncertainty`, also RMS_U, MQI and the
    target-diagram terms."""
    observed = np.asarray(observed, dtype=np.float64)
    modelled = np.asarray(modelled, dtype=np.float64)
    n = int(observed.size)
    if n == 0:
        return {"n": 0, "bias": None, "rmse": None, "r": None}
    error = modelled - observed
    sd_o, sd_m = float(observed.std()), float(modelled.std())
    r = float(np.corrcoef(observed, modelled)[0, 1]) if n > 1 and sd_o > 0 and sd_m > 0 else None
    bias = float(error.mean())
    rmse = float(np.sqrt(np.mean(error**2)))
    crmse = float(np.sqrt(max(rmse**2 - bias**2, 0.0)))
    out = {
        "n": n,
        "bias": bias,
        "rmse": rmse,
        "r": r,
        "sd_observed": sd_o,
        "sd_modelled": sd_m,
        "crmse": crmse,
    }
    if uncertainty is not None:
        rms_u = float(np.sqrt(np.mean(uncertainty.of(observed) ** 2)))
        scale = BETA * rms_u
        out |= {
            "rms_u": rms_u,
            "mqi": rmse / scale,
            "target": {
                "bias": bias / scale,
                "crmse": _sign(sd_o, sd_m, r) * crmse / scale,
            },
        }
    return out


def _sign(sd_o: float, sd_m: float, r: float | None) -> float:
    """FAIRMODE's side of the target diagram: +1 when the standard deviation dominates the
    centred error (|σM − σO| ≥ σO·√(2(1 − R))), −1 when the correlation does."""
    if r is None or sd_o <= 0 or r >= 1:
        return 1.0
    return 1.0 if abs(sd_m - sd_o) >= sd_o * np.sqrt(2 * (1 - r)) else -1.0


def mqi90(values: list[float]) -> float | None:
    """The MQI of the 90th-percentile station: stations ranked by MQI (1 … N), rank 0.9·N,
    interpolated linearly between its neighbours (Guidance v3.3, section 4.1)."""
    ranked = np.sort(np.asarray([v for v in values if v is not None], dtype=np.float64))
    if ranked.size == 0:
        return None
    position = 0.9 * ranked.size
    low = max(int(np.floor(position)), 1)
    high = min(low + 1, ranked.size)
    return float(ranked[low - 1] + (ranked[high - 1] - ranked[low - 1]) * (position - low))


def daily_means(samples: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """sensor, time (UTC day) and the daily mean of each of `columns` from hourly `samples`,
    for days where every column has at least 75 % of the hours."""
    days = pd.to_datetime(samples["time"], utc=True).dt.floor("D")
    grouped = samples.assign(time=days).groupby(["sensor", "time"])[columns]
    means, counts = grouped.mean(), grouped.count()
    complete = (counts >= MIN_DAY_COVERAGE * 24).all(axis=1)
    return means[complete].reset_index()


def skill_table(samples: pd.DataFrame, methods: list[str], pollutant: str | None) -> dict:
    """Per method, its scores over all samples, per station, and the MQI90, from `samples`
    (sensor, time, observed and one column per method); daily means first where FAIRMODE
    scores the pollutant daily."""
    uncertainty = FAIRMODE.get(pollutant or "")
    if uncertainty is not None and uncertainty.averaging == "day":
        samples = daily_means(samples, ["observed", *methods])
    table = {}
    for method in methods:
        pairs = samples.dropna(subset=["observed", method])
        stations = [
            {"sensor": sensor, **scores(group["observed"], group[method], uncertainty)}
            for sensor, group in pairs.groupby("sensor", sort=True)
        ]
        overall = scores(pairs["observed"], pairs[method], uncertainty)
        if uncertainty is not None:
            overall["mqi90"] = mqi90([station.get("mqi") for station in stations])
        table[method] = {"overall": overall, "stations": stations}
    return {
        "averaging": uncertainty.averaging if uncertainty else "step",
        "fairmode": uncertainty.as_dict() if uncertainty else None,
        "methods": table,
    }
