"""The demo city's base as the import builds it (no database), for tests of the models."""

from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from citytwin.cli.demo import demo_sources
from citytwin.core.grid import Grid
from citytwin.ingest.city.build import CityBase, build_city
from citytwin.ingest.city.clean import LayerReport, clean_buildings, clean_roads
from citytwin.ingest.city.files import Source, read_layer
from citytwin.ingest.city.mapping import default_columns, mapped
from citytwin.sim.energy import EnergyParameters, read_buildings
from citytwin.sim.meteorology import Meteorology, city_climatology, climatology_weather
from citytwin.sim.traffic import read_roads

GIS_DATA = Path(__file__).resolve().parent.parent / "gis_data"


def read_base(path: Path, layer: str) -> gpd.GeoDataFrame:
    """A GIS file's roads or buildings as the import stores them (kept whole: the boundary
    is the file's own extent, grown by a metre)."""
    frame = read_layer(Source(path))
    boundary = shapely.box(*frame.total_bounds).buffer(1e-5)
    clean = clean_roads if layer == "roads" else clean_buildings
    return clean(mapped(frame, layer, default_columns()), boundary, LayerReport(layer, str(path)))


@cache
def demo_base() -> CityBase:
    """The demo city's record and base layers, built from gis_data/ once per session."""
    return build_city(demo_sources(GIS_DATA))


def demo_grid(cell_size: float | None = None, max_cells: int = 10**8) -> Grid:
    """The demo city's grid (its own cell size unless given)."""
    return demo_base().city.overridden(cell_size=cell_size).grid(max_cells)


def demo_roads(epsg: int) -> gpd.GeoDataFrame:
    """The demo city's motor-traffic roads as the traffic model reads them."""
    return read_roads(demo_base().roads, epsg)


def demo_buildings(epsg: int, params: EnergyParameters | None = None) -> gpd.GeoDataFrame:
    """The demo city's buildings as the energy model reads them."""
    return read_buildings(demo_base().buildings, epsg, params)


def demo_weather(times: pd.DatetimeIndex) -> Meteorology:
    """The demo city's declared climatology at `times`."""
    city = demo_base().city
    return climatology_weather(times, city_climatology(city.climatology), city.timezone)


def demo_energy_parameters(**changes: object) -> EnergyParameters:
    """Energy parameters in the demo city's zone and longitude."""
    city = demo_base().city
    return EnergyParameters(timezone=city.timezone, longitude=round(city.longitude, 4), **changes)
