"""Interventions turned into changes of the models' inputs: per (step, road), per (step,
building) and per step for the weather. Pure: geometries in, arrays out."""

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.scenarios.spec import Intervention, Scenario, intervention_geometry, window
from citytwin.sim.air_quality import TrafficMeasures
from citytwin.sim.energy import Measures
from citytwin.sim.meteorology import Meteorology

LINE_REACH = 15.0  # m: lines select the roads and buildings this close to them


@dataclass(frozen=True)
class Effects:
    """What the interventions change, and how many roads, buildings and steps each touches."""

    traffic: TrafficMeasures
    buildings: Measures
    meteorology: Meteorology
    touched: list[dict]


def _projected(geometry: BaseGeometry, grid: Grid) -> BaseGeometry:
    """`geometry` (lon/lat) in the grid's CRS; lines widened to LINE_REACH either side."""
    to_grid = Transformer.from_crs(4326, grid.epsg, always_xy=True)
    projected = shapely.transform(geometry, lambda xy: np.column_stack(to_grid.transform(*xy.T)))
    if projected.geom_type in ("LineString", "MultiLineString"):
        return projected.buffer(LINE_REACH)
    return projected


def _steps(scenario: Scenario, item: Intervention, times: pd.DatetimeIndex) -> np.ndarray:
    """Which of `times` (naive UTC step starts) fall inside the intervention's window."""
    start, end = (
        pd.Timestamp(t).tz_convert("UTC").tz_localize(None) for t in window(scenario, item)
    )
    return np.asarray((times >= start) & (times < end))


def compile_effects(
    scenario: Scenario,
    grid: Grid,
    times: pd.DatetimeIndex,
    roads: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    meteorology: Meteorology,
) -> Effects:
    """The scenario's interventions applied in order to the baseline's inputs: volume factors
    multiply, later shares, EV shares, limits and weather replace earlier ones. InvalidParameter
    naming the geometry of an intervention that lies outside the grid."""
    steps, n_roads, n_buildings = len(times), len(roads), len(buildings)
    traffic = TrafficMeasures.none(steps, n_roads)
    measures = Measures.none(steps, n_buildings)
    shares = {
        "building_retrofit": measures.retrofit,
        "rooftop_pv": measures.pv,
        "heat_pump": measures.heat_pump,
    }
    road_tree = shapely.STRtree(roads.geometry.to_numpy())
    grid_box = shapely.box(*grid.bounds)
    touched = []
    for index, item in enumerate(scenario.interventions):
        parameter = f"interventions[{index}].geometry"
        when = _steps(scenario, item, times)
        effect = item.effect
        geometry = intervention_geometry(item, parameter)
        summary = {"intervention": item.name or f"#{index}", "type": effect.type}
        summary["steps"] = int(when.sum())
        if effect.type == "meteorology":
            values = effect.model_dump(exclude={"type"})
            meteorology = meteorology.replaced(when, **values)
            touched.append(summary)
            continue
        area = _projected(geometry, grid)
        if not area.intersects(grid_box):
            west, south, east, north = grid.bounds
            raise InvalidParameter(
                parameter,
                f"lies outside the city grid (EPSG:{grid.epsg} {west:.0f},{south:.0f},"
                f"{east:.0f},{north:.0f})",
            )
        if effect.type in shares:
            chosen = shapely.contains_xy(area, buildings["x"].to_numpy(), buildings["y"].to_numpy())
            shares[effect.type][np.ix_(when, chosen)] = effect.share
            summary["buildings"] = int(chosen.sum())
        else:
            chosen = np.zeros(n_roads, dtype=bool)
            chosen[road_tree.query(area, predicate="intersects")] = True
            cells = np.ix_(when, chosen)
            if effect.type == "traffic_volume":
                traffic.volume_factor[cells] *= effect.factor
            elif effect.type == "road_closure":
                traffic.volume_factor[cells] = 0.0
            elif effect.type == "fleet_mix":
                traffic.ev_share[cells] = effect.ev_share
            else:
                traffic.speed_limit[cells] = np.fmin(traffic.speed_limit[cells], effect.kmh)
            summary["roads"] = int(chosen.sum())
        touched.append(summary)
    return Effects(traffic, measures, meteorology, touched)
