"""A city's base built from its sources: the record, districts, roads and buildings, checked
and clipped, with a report per layer. Storing it is `db.city.replace_base`'s job."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

from citytwin.core.city import DEFAULT_CELL_SIZE, DEFAULT_STEP_SECONDS, City, make_city
from citytwin.errors import InvalidParameter, MalformedInput
from citytwin.ingest.city.clean import (
    LayerReport,
    clean_buildings,
    clean_districts,
    clean_roads,
)
from citytwin.ingest.city.files import Source, read_boundary, read_layer
from citytwin.ingest.city.mapping import Columns, load_columns, mapped
from citytwin.ingest.city.osm import OsmLayers, admin_area, admin_districts, read_pbf

OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
Progress = Callable[[str], None]  # a stage's description


@dataclass(frozen=True)
class CitySources:
    """Where a city's base comes from: a PBF and/or GIS files (a file wins over the PBF for
    its layer); the boundary is a file or the PBF's administrative area `boundary_name`."""

    name: str
    pbf: Path | None = None
    boundary: Source | None = None
    boundary_name: str | None = None
    districts: Source | None = None
    roads: Source | None = None
    buildings: Source | None = None
    columns: Path | None = None
    timezone: str | None = None
    epsg: int | None = None
    cell_size: float = DEFAULT_CELL_SIZE
    step_seconds: int = DEFAULT_STEP_SECONDS
    attribution: str | None = None
    climatology: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CityBase:
    """A city's record and base layers, EPSG:4326 GeoDataFrames (districts: id, name; roads:
    id, road_class, name, maxspeed, lanes, oneway; buildings: id, use, name, levels, height,
    year), and a report per layer."""

    city: City
    districts: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    reports: tuple[LayerReport, ...] = ()


def _empty(columns: Columns, layer: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({name: [] for name in columns[layer]}, geometry=[], crs=4326)


def _boundary(sources: CitySources, osm: OsmLayers | None) -> tuple[object, float | None]:
    if sources.boundary is not None:
        return read_boundary(sources.boundary), None
    if sources.boundary_name and osm is not None and sources.pbf is not None:
        return admin_area(osm, sources.boundary_name, sources.pbf)
    raise InvalidParameter(
        "boundary", "give a boundary file, or a PBF and the name of its administrative area"
    )


def build_city(sources: CitySources, progress: Progress = lambda stage: None) -> CityBase:
    """The checked, clipped base of `sources`; MalformedInput naming the file and layer when
    one cannot be read or a roads or buildings layer has nothing inside the boundary."""
    columns = load_columns(sources.columns)
    osm = None
    if sources.pbf is not None:
        progress(f"reading {sources.pbf}")
        osm = read_pbf(sources.pbf, columns)
    progress("boundary")
    boundary, level = _boundary(sources, osm)
    if boundary.is_empty:
        raise MalformedInput(f"{sources.boundary or sources.pbf}: the boundary is empty")
    layers = {}
    reports = []
    cleaners = {"districts": clean_districts, "roads": clean_roads, "buildings": clean_buildings}
    for layer, clean in cleaners.items():
        progress(layer)
        source: Source | None = getattr(sources, layer)
        if source is not None:
            raw, where = read_layer(source), str(source)
        elif osm is not None:
            raw = admin_districts(osm, level) if layer == "districts" else getattr(osm, layer)
            where = f"{sources.pbf} ({layer})"
        else:
            layers[layer] = _empty(columns, layer)
            continue
        report = LayerReport(layer, where)
        layers[layer] = clean(mapped(raw, layer, columns), boundary, report)
        reports.append(report)
        if layer != "districts" and report.kept == 0:
            raise MalformedInput(
                f"{where}: no {layer} inside the boundary ({report.read} read, dropped: "
                f"{', '.join(f'{n} {why}' for why, n in report.dropped.items()) or 'none'})"
            )
    attribution = sources.attribution
    if attribution is None:
        attribution = OSM_ATTRIBUTION if sources.pbf is not None else ""
    city = make_city(
        sources.name,
        boundary,
        timezone=sources.timezone,
        epsg=sources.epsg,
        cell_size=sources.cell_size,
        step_seconds=sources.step_seconds,
        attribution=attribution,
        climatology=sources.climatology,
    )
    return CityBase(city, layers["districts"], layers["roads"], layers["buildings"], tuple(reports))
