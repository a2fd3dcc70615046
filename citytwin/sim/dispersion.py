"""Dispersion of gridded ground-level emissions by a Gaussian plume kernel, applied by FFT.

For one hour the kernel is the ground-level concentration around a unit ground-level source
(1 g/s) under that hour's wind; concentrations are the emissions convolved with it. Equations,
parameters and sources: docs/models.md, "Traffic air quality".
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from citytwin.errors import InvalidParameter

MIN_WIND_SPEED = 1.0  # m/s: below this a plume model does not hold (calms are lifted to it)

Curve = tuple[float, float, float]  # σ = a·s·(1 + b·s)^c
# Briggs (1973) urban curves (McElroy-Pooler, St Louis), per Pasquill class: (σy, σz).
BRIGGS_URBAN: dict[str, tuple[Curve, Curve]] = {
    "A": ((0.32, 0.0004, -0.5), (0.24, 0.001, 0.5)),
    "B": ((0.32, 0.0004, -0.5), (0.24, 0.001, 0.5)),
    "C": ((0.22, 0.0004, -0.5), (0.20, 0.0, 0.0)),
    "D": ((0.16, 0.0004, -0.5), (0.14, 0.0003, -0.5)),
    "E": ((0.11, 0.0004, -0.5), (0.08, 0.0015, -0.5)),
    "F": ((0.11, 0.0004, -0.5), (0.08, 0.0015, -0.5)),
}


@dataclass(frozen=True)
class PlumeParameters:
    """Gaussian plume settings: Briggs (1973) urban dispersion curves of the hour's Pasquill
    class (D, neutral, when none is given)."""

    initial_sigma_z: float = 1.5  # m: vehicle-induced mixing at the road
    max_distance: float = 3000.0  # m: the kernel's reach
    subcells: int = 3  # the kernel is averaged over n x n points per cell

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "kernel": "gaussian-plume-ground-reflected",
            "dispersion_curves": "briggs-urban-by-pasquill-class",
            "initial_sigma_z_m": self.initial_sigma_z,
            "max_distance_m": self.max_distance,
            "kernel_subcells": self.subcells,
            "min_wind_speed_ms": MIN_WIND_SPEED,
        }


def briggs(distance: np.ndarray, curve: Curve) -> np.ndarray:
    """A Briggs dispersion curve a·s·(1 + b·s)^c at downwind distances `s` (m)."""
    a, b, c = curve
    return a * distance * (1.0 + b * distance) ** c


def plume_kernel(
    cell_size: float,
    wind_speed: float,
    wind_from: float,
    mixing_height: float,
    parameters: PlumeParameters,
    half_size: int | None = None,
    stability: str = "D",
) -> np.ndarray:
    """Ground-level concentration (s/m³) per unit emission rate in each cell around a source
    at the centre of a (2h + 1)² kernel; wind blowing from `wind_from` degrees (meteorological).

        C = 1 / (√(2π) · u · σy · D) · exp(−r² / 2σy²),   D = min(√(π/2) · σz, H)

    with s, r the along- and cross-wind offsets, σ at max(s, cell / 2) (the source's own cell
    and its crosswind neighbours are fed from half a cell downwind), and zero upwind, averaged
    over `subcells`² points per cell (one: the value at the cell centre), σ from the Briggs
    urban curves of Pasquill class `stability`. D is the
    depth the plume fills: the reflected half-Gaussian's, capped by the mixing height H, so the
    crosswind flux u·ΣC·Δy·D is one at every distance (mass conservation)."""
    if not wind_speed > 0:
        raise InvalidParameter("wind_speed", f"{wind_speed} m/s is not a positive speed")
    if not mixing_height > 0:
        raise InvalidParameter("mixing_height", f"{mixing_height} m is not a positive height")
    if half_size is None:
        half_size = math.ceil(parameters.max_distance / cell_size)
    u = max(wind_speed, MIN_WIND_SPEED)
    n = parameters.subcells
    # Points at the centres of n x n sub-cells of every kernel cell; their mean is the cell's.
    offsets = cell_size * (np.arange(-half_size * n, (half_size + 1) * n) + 0.5 - n / 2) / n
    dx, dy = np.meshgrid(offsets, -offsets)  # rows run north to south, as the grid's
    towards = math.radians(wind_from + 180.0)
    along = dx * math.sin(towards) + dy * math.cos(towards)
    across = dx * math.cos(towards) - dy * math.sin(towards)
    distance = np.maximum(along, cell_size / 2)
    curve_y, curve_z = BRIGGS_URBAN[stability]
    sigma_y = briggs(distance, curve_y)
    sigma_z = np.hypot(parameters.initial_sigma_z, briggs(distance, curve_z))
    depth = np.minimum(math.sqrt(math.pi / 2) * sigma_z, mixing_height)
    kernel = np.exp(-0.5 * (across / sigma_y) ** 2) / (math.sqrt(2 * math.pi) * u * sigma_y * depth)
    reach = np.hypot(dx, dy) <= parameters.max_distance + cell_size / 2
    kernel[(along < -cell_size / 2) | ~reach] = 0.0
    size = 2 * half_size + 1
    return kernel.reshape(size, n, size, n).mean(axis=(1, 3))


def disperse(emissions: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Concentrations (µg/m³) of (…, y, x) emission rates in g/s per cell spread by `kernel`
    (s/m³): their linear convolution by FFT, cropped to the grid."""
    kernel = kernel.astype(emissions.dtype, copy=False)
    kernel = kernel.reshape((1,) * (emissions.ndim - 2) + kernel.shape)
    spread = fftconvolve(emissions, kernel, mode="same", axes=(-2, -1))
    return np.maximum(spread, 0.0) * 1e6  # FFT round-off leaves tiny negatives where none is
