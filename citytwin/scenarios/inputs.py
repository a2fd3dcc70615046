"""Everything a scenario run reads before any model work: grid, roads, buildings, readings."""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from citytwin.core.grid import Grid, city_grid
from citytwin.db.pool import Connection
from citytwin.db.queries.layers import step_means, variable_unit
from citytwin.errors import InvalidParameter
from citytwin.layers.provenance import hash_readings
from citytwin.scenarios.models import needed_readings
from citytwin.scenarios.spec import Scenario
from citytwin.sim.boundary import read_boundary
from citytwin.sim.energy import read_buildings
from citytwin.sim.nowcast import time_steps
from citytwin.sim.traffic import read_roads

STEP_SECONDS = 3600
GIS_FILES = ("boundary.geojson", "roads.geojson", "buildings.geojson")


@dataclass(frozen=True)
class CityInputs:
    """The grid, steps, base GIS layers and sensor step means (sensor, lon, lat, time, value)
    of a run, by feed variable."""

    grid: Grid
    times: pd.DatetimeIndex
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    readings: dict[str, pd.DataFrame]
    inputs_hash: str
    step_seconds: int = STEP_SECONDS

    @property
    def start(self) -> datetime:
        """The first step's start (UTC)."""
        return self.times[0].tz_localize("UTC").to_pydatetime()

    @property
    def end(self) -> datetime:
        """The last step's end (UTC)."""
        return (
            (self.times[-1] + pd.Timedelta(seconds=self.step_seconds))
            .tz_localize("UTC")
            .to_pydatetime()
        )


def grid_for(scenario: Scenario, gis_dir: Path, max_cells: int) -> Grid:
    """The city grid at the scenario's cell size; InvalidParameter `baseline.cell_size` if it
    is over the limit."""
    try:
        return city_grid(
            read_boundary(gis_dir / "boundary.geojson"), scenario.baseline.cell_size, max_cells
        )
    except InvalidParameter as exc:
        raise InvalidParameter("baseline.cell_size", exc.message) from None


async def load_inputs(
    conn: Connection, scenario: Scenario, gis_dir: Path, max_cells: int
) -> CityInputs:
    """The run's inputs, checked before any work: InvalidParameter naming `baseline.cell_size`
    for an absurd grid, `baseline.variables` for a variable the store lacks and
    `baseline.start` for a span without readings."""
    grid = grid_for(scenario, gis_dir, max_cells)
    times = time_steps(scenario.baseline.start, scenario.baseline.end, STEP_SECONDS)
    start = times[0].tz_localize("UTC").to_pydatetime()
    end = (times[-1] + times.freq).tz_localize("UTC").to_pydatetime()
    readings = {}
    digest = hashlib.sha256()
    for name in needed_readings(scenario.baseline.variables):
        try:
            variable_id, _ = await variable_unit(conn, name)
        except InvalidParameter as exc:
            raise InvalidParameter("baseline.variables", f"the models need {exc.message}") from None
        means = await step_means(conn, variable_id, start, end, STEP_SECONDS)
        if means.empty:
            raise InvalidParameter(
                "baseline.start",
                f"no {name} readings between {start:%FT%TZ} and {end:%FT%TZ}: the baseline "
                "must lie in the span of the stored data",
            )
        readings[name] = means
        digest.update(f"{name}:{hash_readings(means)}".encode())
    for name in GIS_FILES:
        digest.update(hashlib.sha256((gis_dir / name).read_bytes()).digest())
    return CityInputs(
        grid=grid,
        times=times,
        roads=read_roads(gis_dir / "roads.geojson", grid.epsg),
        buildings=read_buildings(gis_dir / "buildings.geojson", grid.epsg),
        readings=readings,
        inputs_hash=digest.hexdigest(),
    )
