"""Road traffic emissions: a fleet mix and emission factors per vehicle kind → g/s per road,
then per grid cell. Factors and their sources: docs/models.md, "Traffic air quality".

The roads emit NOx (as NO2 mass), PM2.5 and PM10, in the order of POLLUTANTS: the model turns
the NOx into the NO2 it outputs at the receptors (`citytwin.sim.no2_chemistry`)."""

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from scipy import sparse

from citytwin.core.grid import Grid

POLLUTANTS = ("no2", "pm25", "pm10")  # what the model outputs: channel 0 is emitted as NOx
VEHICLES = ("car_petrol", "car_diesel", "car_electric", "van", "truck", "bus")
CARS = (0, 1, 2)  # petrol, diesel, electric: the shares an EV-share change moves between
# Exhaust factors g/veh/km at 50 km/h for a Euro 6 / Euro VI fleet, rounded from the EMEP/EEA
# guidebook 2023 (1.A.3.b.i-iv, Tier 2) and COPERT 5 real-world NOx: (NOx, PM2.5).
EXHAUST = {
    "car_petrol": (0.06, 0.001),
    "car_diesel": (0.45, 0.002),
    "car_electric": (0.0, 0.0),
    "van": (0.60, 0.003),
    "truck": (1.20, 0.010),
    "bus": (1.50, 0.010),
}
# Primary NO2 share of exhaust NOx (same guidebook, Euro 6/VI).
PRIMARY_NO2 = {
    "car_petrol": 0.03,
    "car_diesel": 0.35,
    "car_electric": 0.0,
    "van": 0.35,
    "truck": 0.10,
    "bus": 0.10,
}
# Tyre, brake and road wear g/veh/km (guidebook 1.A.3.b.vi-vii), electric cars as petrol ones
# (more weight, less braking by regeneration): (PM2.5, PM10).
NON_EXHAUST = {
    "car_petrol": (0.011, 0.030),
    "car_diesel": (0.011, 0.030),
    "car_electric": (0.011, 0.030),
    "van": (0.017, 0.047),
    "truck": (0.045, 0.120),
    "bus": (0.045, 0.120),
}


@dataclass(frozen=True)
class FleetMix:
    """Shares of the vehicle kinds in traffic (sum to 1)."""

    shares: dict[str, float] = field(
        default_factory=lambda: {
            "car_petrol": 0.52,
            "car_diesel": 0.30,
            "car_electric": 0.06,
            "van": 0.08,
            "truck": 0.03,
            "bus": 0.01,
        }
    )

    def as_array(self) -> np.ndarray:
        """Shares in the order of VEHICLES."""
        return np.array([self.shares[name] for name in VEHICLES], dtype=np.float64)


def primary_no2_share(fleet: FleetMix) -> float:
    """The share of the fleet's exhaust NOx emitted as NO2 (the speed shape, common to every
    kind, cancels)."""
    shares = fleet.as_array()
    nox = shares * np.array([EXHAUST[name][0] for name in VEHICLES])
    return float(np.dot(nox, [PRIMARY_NO2[name] for name in VEHICLES]) / nox.sum())


def speed_factor(speed: np.ndarray) -> np.ndarray:
    """Exhaust emissions at `speed` km/h relative to 50 km/h: the U-shape of COPERT's urban
    curves (high in stop-and-go, lowest near 60 km/h, rising again on fast roads)."""
    v = np.clip(speed, 5.0, 130.0)
    return (0.6 + 20.0 / v + 0.00008 * v**2) / 1.2


def fleet_shares(base: FleetMix, ev_share: np.ndarray) -> np.ndarray:
    """(…, vehicle) shares where the electric share of cars is `ev_share` (NaN: unchanged);
    petrol and diesel keep their ratio."""
    shares = np.broadcast_to(base.as_array(), (*ev_share.shape, len(VEHICLES))).copy()
    cars = shares[..., list(CARS)].sum(axis=-1)
    fossil = shares[..., 0] + shares[..., 1]
    change = ~np.isnan(ev_share)
    for kind in (0, 1):
        share = cars * (1 - ev_share) * shares[..., kind] / fossil
        shares[..., kind] = np.where(change, share, shares[..., kind])
    shares[..., 2] = np.where(change, cars * ev_share, shares[..., 2])
    return shares


def road_emissions(volume: np.ndarray, speed: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(time, road, pollutant) emission rates in g/s per km of road (NOx as NO2, PM2.5, PM10)
    from volumes (veh/h), speeds (km/h) and fleet shares (time, road, vehicle)."""
    exhaust = np.array([EXHAUST[name] for name in VEHICLES])  # (vehicle, NOx/PM2.5)
    wear = np.array([NON_EXHAUST[name] for name in VEHICLES])  # (vehicle, PM2.5/PM10)
    per_vehicle = np.stack(
        [
            (shares * exhaust[:, 0]).sum(-1) * speed_factor(speed),
            (shares * exhaust[:, 1]).sum(-1) * speed_factor(speed) + (shares * wear[:, 0]).sum(-1),
            (shares * exhaust[:, 1]).sum(-1) * speed_factor(speed) + (shares * wear[:, 1]).sum(-1),
        ],
        axis=-1,
    )
    return per_vehicle * (volume / 3600.0)[..., None]


def road_raster(
    roads: gpd.GeoDataFrame, grid: Grid, spacing: float | None = None
) -> sparse.csr_array:
    """The (cell, road) matrix of km of each road in each grid cell (cells numbered row by row),
    measured by points every `spacing` m (default a quarter cell) along the roads."""
    spacing = spacing or grid.cell_size / 4
    lengths = roads.geometry.length.to_numpy()
    counts = np.maximum(np.ceil(lengths / spacing).astype(np.int64), 1)
    road = np.repeat(np.arange(len(roads)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    along = (np.arange(counts.sum()) - first + 0.5) * np.repeat(lengths / counts, counts)
    lines = shapely.line_merge(roads.geometry.to_numpy())
    points = shapely.line_interpolate_point(lines[road], along)
    x, y = shapely.get_coordinates(points).T
    col = np.floor((x - grid.west) / grid.cell_size).astype(np.int64)
    row = np.floor((grid.north - y) / grid.cell_size).astype(np.int64)
    inside = (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)
    km = np.repeat(lengths / counts, counts) / 1000.0
    return sparse.csr_array(
        (km[inside], (row[inside] * grid.nx + col[inside], road[inside])),
        shape=(grid.cells, len(roads)),
    )
