"""Everything a scenario run reads before any model work: grid, roads, buildings, readings."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from citytwin.core.city import City
from citytwin.core.grid import Grid
from citytwin.db.city import fetch_buildings, fetch_roads
from citytwin.db.pool import Connection
from citytwin.db.queries.layers import step_means, variable_unit
from citytwin.errors import InvalidParameter
from citytwin.layers.provenance import hash_readings
from citytwin.scenarios.models import models_for, needed_readings
from citytwin.scenarios.spec import Scenario
from citytwin.sim.air_calibration import ozone_background
from citytwin.sim.energy import read_buildings
from citytwin.sim.meteorology import (
    Climatology,
    Meteorology,
    city_climatology,
    climatology_weather,
)
from citytwin.sim.mobile_sensors import fixed_sensors
from citytwin.sim.nowcast import time_steps
from citytwin.sim.observed_weather import (
    CLIMATOLOGY_WIND,
    WEATHER_READINGS,
    observed_meteorology,
)
from citytwin.sim.stability import needs_cloud, solar_elevation
from citytwin.sim.traffic import read_roads

# Used where a feed has them: the weather, and the ozone that turns the roads' NOx into NO2.
OPTIONAL_READINGS = (*WEATHER_READINGS, "o3")
NO2_WITHOUT_OZONE = "no2-derwent-middleton"  # hours whose NO2 took the empirical fallback
DECLARED_CLOUD = "declared-cloud-cover"  # hours whose stability class took the declared cloud
AIR = ("no2", "pm25", "pm10")  # the readings of the air model, whose stability needs the cloud


def _iso(times: pd.DatetimeIndex) -> list[str]:
    return [f"{time:%Y-%m-%dT%H:%M:%SZ}" for time in times]


@dataclass(frozen=True)
class CityInputs:
    """The city, grid, steps, base GIS layers and fixed sensors' step means (sensor, lon, lat,
    time, value) of a run, by feed variable; the mobile sensors left out."""

    city: City
    grid: Grid
    times: pd.DatetimeIndex
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    readings: dict[str, pd.DataFrame]
    inputs_hash: str
    mobile: tuple[str, ...] = ()  # mobile sensors left out of the readings

    @property
    def step_seconds(self) -> int:
        """The model step: the city's."""
        return self.city.step_seconds

    @property
    def climatology(self) -> Climatology:
        """The city's fallback weather regime."""
        return city_climatology(self.city.climatology)

    def _observed_weather(self) -> tuple[Meteorology, dict[str, list[str]]]:
        return observed_meteorology(
            self.times,
            {name: self.readings.get(name) for name in WEATHER_READINGS},
            climatology_weather(self.times, self.climatology, self.city.timezone),
        )

    def weather(self) -> Meteorology:
        """The baseline weather of the run's steps: the weather feeds where they report (wind,
        temperature, mixing height, cloud, radiation), the city's climatology elsewhere."""
        return self._observed_weather()[0]

    def weather_gaps(self) -> list[str]:
        """The steps (ISO 8601 UTC) whose wind is the climatology's."""
        return self._observed_weather()[1][CLIMATOLOGY_WIND]

    def sun(self) -> np.ndarray:
        """The sun's elevation (degrees) over the grid's centre at each step."""
        lon, lat = self.grid.lonlat
        return solar_elevation(self.times, float(lon.mean()), float(lat.mean()))

    def fallbacks(self) -> dict[str, list[str]] | None:
        """The declared fallbacks of the run by the steps (ISO 8601 UTC) that took them: each
        weather quantity's climatology; for the air model, the declared cloud cover where the
        stability class needed an unmeasured one, and NO2 by Derwent-Middleton where no ozone
        was measured."""
        weather, found = self._observed_weather()
        if any(name in self.readings for name in AIR):
            unmeasured = np.isnan(weather.measured("cloud_octas"))
            cloud = needs_cloud(self.sun(), weather.measured("solar_radiation")) & unmeasured
            found[DECLARED_CLOUD] = _iso(self.times[cloud])
        if "no2" in self.readings:
            ozone = ozone_background(self.readings.get("o3"), self.times, 0.5)
            found[NO2_WITHOUT_OZONE] = _iso(self.times[np.isnan(ozone)])
        return {name: steps for name, steps in found.items() if steps} or None

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


def grid_for(scenario: Scenario, city: City, max_cells: int) -> Grid:
    """The city grid at the scenario's cell size (default the city's); InvalidParameter
    `baseline.cell_size` if it is over the limit."""
    cell_size = scenario.baseline.cell_size or city.cell_size
    try:
        return city.overridden(cell_size=cell_size).grid(max_cells)
    except InvalidParameter as exc:
        raise InvalidParameter("baseline.cell_size", exc.message) from None


def _base_hash(frame: gpd.GeoDataFrame) -> bytes:
    """A digest of a base layer's rows (ids, attributes and geometries)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame.drop(columns="geometry")).to_numpy())
    digest.update(b"".join(shapely.to_wkb(frame.geometry.to_numpy())))
    return digest.digest()


async def _fixed_means(
    conn: Connection, variable_id: int, start: datetime, end: datetime, step: int
) -> tuple[pd.DataFrame, list[str]]:
    """The fixed sensors' step means of a variable, and the mobile sensors left out."""
    return fixed_sensors(await step_means(conn, variable_id, start, end, step))


async def _optional_means(
    conn: Connection, name: str, start: datetime, end: datetime, step: int
) -> tuple[pd.DataFrame | None, list[str]]:
    """Step means of a variable the models use where it exists (None: unknown or no data)."""
    try:
        variable_id, _ = await variable_unit(conn, name)
    except InvalidParameter:
        return None, []
    means, mobile = await _fixed_means(conn, variable_id, start, end, step)
    return (None if means.empty else means), mobile


async def load_inputs(
    conn: Connection, scenario: Scenario, city: City, max_cells: int
) -> CityInputs:
    """The run's inputs, checked before any work: InvalidParameter naming `baseline.cell_size`
    for an absurd grid, `baseline.variables` for a variable the store lacks or a model the
    city's base cannot feed, and `baseline.start` for a span without readings."""
    grid = grid_for(scenario, city, max_cells)
    step = city.step_seconds
    times = time_steps(scenario.baseline.start, scenario.baseline.end, step)
    start = times[0].tz_localize("UTC").to_pydatetime()
    end = (times[-1] + times.freq).tz_localize("UTC").to_pydatetime()
    roads, buildings = await fetch_roads(conn), await fetch_buildings(conn)
    variables = scenario.baseline.variables
    base = {"roads": roads, "buildings": buildings}
    for model in models_for(variables):
        for what in model.needs:
            if base[what].empty:
                wanted = ", ".join(n for n in variables if n in model.variables)
                raise InvalidParameter(
                    "baseline.variables",
                    f"{wanted} need the city's {what}, and {city.name} was imported without any",
                )
    readings, mobile = {}, set()
    digest = hashlib.sha256(repr(sorted(city.as_properties().items())).encode())
    digest.update(shapely.to_wkb(city.boundary))
    for name in needed_readings(variables):
        try:
            variable_id, _ = await variable_unit(conn, name)
        except InvalidParameter as exc:
            raise InvalidParameter("baseline.variables", f"the models need {exc.message}") from None
        means, left_out = await _fixed_means(conn, variable_id, start, end, step)
        mobile.update(left_out)
        if means.empty:
            only = f" (mobile sensors left out: {', '.join(left_out)})" if left_out else ""
            raise InvalidParameter(
                "baseline.start",
                f"no {name} readings{only} between {start:%FT%TZ} and {end:%FT%TZ}: the "
                "baseline must lie in the span of the stored data",
            )
        readings[name] = means
        digest.update(f"{name}:{hash_readings(means)}".encode())
    for name in OPTIONAL_READINGS:
        means, left_out = await _optional_means(conn, name, start, end, step)
        mobile.update(left_out)
        if means is not None:
            readings[name] = means
            digest.update(f"{name}:{hash_readings(means)}".encode())
    digest.update(_base_hash(roads) + _base_hash(buildings))
    return CityInputs(
        city=city,
        grid=grid,
        times=times,
        roads=read_roads(roads, grid.epsg),
        buildings=read_buildings(buildings, grid.epsg),
        readings=readings,
        inputs_hash=digest.hexdigest(),
        mobile=tuple(sorted(mobile)),
    )
