"""NO2 from the roads' NOx: ozone-limited where ozone is measured, Derwent-Middleton elsewhere.

The plume carries NOx (as NO2 mass, as emission factors give it). How much of it a receptor
sees as NO2 depends on the NO2 the exhaust emits directly and on the NO that ozone has turned
into NO2 since:

- **Ozone limiting method** (Cole & Summerhays 1979; US EPA, Guideline on Air Quality Models,
  40 CFR 51 appendix W, 4.2.3.4), where the hour's background ozone is measured:
  ΔNO2 = f·ΔNOx + min((1 − f)·ΔNOx, (46/48)·O3), f the fleet's primary NO2 share: the NO the
  background ozone can oxidise, mole for mole, turns into NO2, and no more.
- **Derwent & Middleton (1996)**, hourly, fitted on UK urban stations, the declared fallback
  for hours without ozone: NO2 = 2.166 − NOx·(1.236 − 3.348A + 1.933A² − 0.326A³) in ppb,
  A = log10 NOx, for 9-1141.5 ppb (outside, the ratio at the nearer end). The background's
  NOx is the one whose NO2 the background measures (the function inverted), so the roads add
  ΔNO2 = DM(NOx_b + ΔNOx) − NO2_b.
"""

import numpy as np

NO2_UG_PER_PPB = 1.91  # µg/m³ per ppb of NO2 at 20 °C, 1013 hPa (the EU directive's reference)
NO2_PER_O3 = 46.0 / 48.0  # µg of NO2 made per µg of O3 that oxidises NO
DM_RANGE = (9.0, 1141.5)  # ppb of NOx the Derwent-Middleton fit covers
OZONE_LIMITED = "ozone-limiting-method"
DERWENT_MIDDLETON = "derwent-middleton-1996"


def _dm_inside(nox_ppb: np.ndarray) -> np.ndarray:
    a = np.log10(nox_ppb)
    return 2.166 - nox_ppb * (1.236 - 3.348 * a + 1.933 * a**2 - 0.326 * a**3)


def derwent_middleton(nox: np.ndarray) -> np.ndarray:
    """Hourly NO2 (µg/m³) at a total NOx (µg/m³ as NO2) by Derwent & Middleton (1996)."""
    ppb = np.maximum(np.asarray(nox, dtype=np.float64), 0.0) / NO2_UG_PER_PPB
    low, high = DM_RANGE
    inside = _dm_inside(np.clip(ppb, low, high))
    ratio = np.where(ppb < low, _dm_inside(low) / low, _dm_inside(high) / high)
    out = np.where((ppb >= low) & (ppb <= high), inside, ratio * ppb)
    return out * NO2_UG_PER_PPB


# The fit is increasing over its range, so it is inverted by interpolation on a dense table.
_TABLE_NOX = np.geomspace(1e-3, DM_RANGE[1] * 4, 4000) * NO2_UG_PER_PPB
_TABLE_NO2 = derwent_middleton(_TABLE_NOX)


def nox_of_no2(no2: np.ndarray) -> np.ndarray:
    """The total NOx (µg/m³) whose NO2 by Derwent & Middleton is `no2` (µg/m³)."""
    return np.interp(np.maximum(no2, 0.0), _TABLE_NO2, _TABLE_NOX)


def no2_added(
    nox: np.ndarray, no2_background: np.ndarray, ozone: np.ndarray, primary_share: float
) -> np.ndarray:
    """The NO2 (µg/m³) the roads add to the background where they add `nox` (µg/m³ as NO2):
    ozone-limited where `ozone` (the hour's background O3, µg/m³) is a number, Derwent &
    Middleton on top of `no2_background` where it is NaN. Arrays broadcast."""
    nox = np.maximum(np.asarray(nox, dtype=np.float64), 0.0)
    primary = primary_share * nox
    limited = primary + np.minimum(nox - primary, NO2_PER_O3 * np.fmax(ozone, 0.0))
    b = np.asarray(no2_background, dtype=np.float64)
    empirical = derwent_middleton(nox_of_no2(b) + nox) - derwent_middleton(nox_of_no2(b))
    return np.where(np.isnan(ozone), empirical, limited)
