"""Traffic air quality: road emissions dispersed hour by hour on Dask, plus a background from
the air sensors, scaled by a factor calibrated against them. docs/models.md has the equations."""

from dataclasses import dataclass, field

import dask
import dask.array as da
import numpy as np
from scipy import sparse

from citytwin.core.grid import Grid
from citytwin.sim.dispersion import PlumeParameters, disperse, plume_kernel
from citytwin.sim.emissions import (
    POLLUTANTS,
    FleetMix,
    fleet_shares,
    primary_no2_share,
    road_emissions,
)
from citytwin.sim.meteorology import Meteorology
from citytwin.sim.near_source import INITIAL_SIGMA_Y, NEAR_DISTANCE
from citytwin.sim.near_source import SPACING as NEAR_SPACING
from citytwin.sim.no2_chemistry import DERWENT_MIDDLETON, OZONE_LIMITED, no2_added
from citytwin.sim.traffic import Traffic

BACKGROUND_QUANTILE = 0.25  # the cleaner quarter of the sensors stands for the urban background
TIME_CHUNK = 2  # hours per Dask task: a 1000 x 1000 grid's task holds ~100 MB


@dataclass(frozen=True)
class TrafficMeasures:
    """Per (time, road) changes to traffic: volume factor, electric share of cars (NaN: as
    the fleet) and speed limit (km/h, NaN: none)."""

    volume_factor: np.ndarray
    ev_share: np.ndarray
    speed_limit: np.ndarray

    @classmethod
    def none(cls, steps: int, roads: int) -> "TrafficMeasures":
        """No change at all."""
        return cls(
            np.ones((steps, roads)),
            np.full((steps, roads), np.nan),
            np.full((steps, roads), np.nan),
        )


@dataclass(frozen=True)
class AirParameters:
    """Fleet and dispersion settings of the model (all in the layer's provenance)."""

    fleet: FleetMix = field(default_factory=FleetMix)
    plume: PlumeParameters = field(default_factory=PlumeParameters)
    background_quantile: float = BACKGROUND_QUANTILE
    # Cloud cover (octas) for the stability class while no weather feed gives it: a declared
    # climatology (an overcast-leaning 6/8, as in a central European autumn).
    cloud_octas: float = 6.0

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "fleet_mix": self.fleet.shares,
            **self.plume.as_dict(),
            "background_quantile": self.background_quantile,
            "no2_chemistry": {
                "relation": f"{OZONE_LIMITED} where ozone is measured, else {DERWENT_MIDDLETON}",
                "primary_no2_share": round(primary_no2_share(self.fleet), 4),
                "ozone_background": "declared background stations, else 1 - background_quantile",
            },
            "stability": "pasquill-turner (wind speed, solar elevation, cloud)",
            "cloud_octas_climatology": self.cloud_octas,
            "near_source": {
                "receptor_distance_m": NEAR_DISTANCE,
                "point_spacing_m": NEAR_SPACING,
                "initial_sigma_y_m": INITIAL_SIGMA_Y,
            },
        }


def road_rates(traffic: Traffic, measures: TrafficMeasures, fleet: FleetMix) -> np.ndarray:
    """(time, road, pollutant) g/s per km of road under `measures`."""
    speed = np.fmin(traffic.speed, measures.speed_limit)
    shares = fleet_shares(fleet, measures.ev_share)
    return road_emissions(traffic.volume * measures.volume_factor, speed, shares)


def increment_block(
    rates: np.ndarray,
    wind_speed: np.ndarray,
    wind_from: np.ndarray,
    mixing_height: np.ndarray,
    stability: np.ndarray,
    *,
    raster: sparse.csr_array,
    grid: Grid,
    plume: PlumeParameters,
) -> np.ndarray:
    """(time, pollutant, y, x) µg/m³ from the roads for a block of steps: one task of
    `increment_graph`, or all the steps at once without Dask."""
    steps, _, pollutants = rates.shape
    # Never reach farther than the grid is wide: those kernel cells would miss every cell.
    half = min(int(np.ceil(plume.max_distance / grid.cell_size)), max(grid.shape))
    out = np.empty((steps, pollutants, *grid.shape), dtype=np.float32)
    for t in range(steps):
        emitted = (raster @ rates[t]).T.reshape(pollutants, *grid.shape).astype(np.float32)
        kernel = plume_kernel(
            grid.cell_size,
            wind_speed[t],
            wind_from[t],
            mixing_height[t],
            plume,
            half,
            str(stability[t]),
        )
        out[t] = disperse(emitted, kernel)
    return out


def increment_graph(
    rates: np.ndarray,
    meteorology: Meteorology,
    raster: sparse.csr_array,
    grid: Grid,
    plume: PlumeParameters,
    time_chunk: int = TIME_CHUNK,
    stability: np.ndarray | None = None,
) -> da.Array:
    """The lazy (time, pollutant, y, x) road increment, one task per `time_chunk` steps, each
    step dispersed under its Pasquill class (`stability`; None: neutral D throughout)."""
    if stability is None:
        stability = np.full(rates.shape[0], "D")
    raster_key = dask.delayed(raster, pure=True)
    blocks = []
    for first in range(0, rates.shape[0], time_chunk):
        part = slice(first, first + time_chunk)
        block = dask.delayed(increment_block, pure=True)(
            rates[part],
            meteorology.wind_speed[part],
            meteorology.wind_from[part],
            meteorology.mixing_height[part],
            stability[part],
            raster=raster_key,
            grid=grid,
            plume=plume,
        )
        shape = (len(rates[part]), rates.shape[2], *grid.shape)
        blocks.append(da.from_delayed(block, shape, dtype=np.float32))
    return da.concatenate(blocks, axis=0)


def concentrations(
    increment: np.ndarray,
    backgrounds: dict[str, np.ndarray],
    factors: dict[str, float],
    ozone: np.ndarray,
    primary_share: float,
) -> dict[str, np.ndarray]:
    """(time, y, x) float32 concentration per pollutant: background + factor × increment for
    PM; for NO2, background + the NO2 that factor × the NOx increment adds under the hour's
    background `ozone` (NaN: Derwent-Middleton), `citytwin.sim.no2_chemistry`."""
    out = {}
    for index, name in enumerate(POLLUTANTS):
        b = backgrounds[name][:, None, None]
        road = factors[name] * increment[:, index]
        if name == "no2":
            road = no2_added(road, b, ozone[:, None, None], primary_share)
        out[name] = (b + road).astype(np.float32)
    return out
