"""`citytwin city import` into PostGIS: the fixture city from its PBF, GIS files, bad input
refused with the previous base kept, a boundary alone, `GET /city`, and a scenario on it."""

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import shape

from citytwin.db.city import fetch_buildings, fetch_city, fetch_roads
from citytwin.errors import InvalidParameter, MalformedInput
from citytwin.ingest.city.build import CitySources
from citytwin.ingest.city.files import Source
from citytwin.layers.store import LayerStore
from citytwin.scenarios.jobs import execute, prepare
from citytwin.scenarios.run import RunControl
from citytwin.scenarios.spec import parse_scenario
from tests.conftest import ROOT, city_imported, import_city
from tests.factories import post_readings

FIXTURES = ROOT / "tests" / "fixtures"
PBF = FIXTURES / "helsinki.osm.pbf"
BOUNDARY = FIXTURES / "helsinki_boundary.geojson"
FIXTURE_CITY = CitySources(name="Helsinki centre", pbf=PBF, boundary=Source(BOUNDARY))
# GDAL's OSM driver folds this closed way into the building relation it is the outer of;
# pyosmium gives it as an area of its own (it has its own building tag).
GDAL_FOLDED = "w675858716"


def gdal_osm(path: Path, layer: str) -> gpd.GeoDataFrame:
    """A layer of a PBF read by GDAL's OSM driver: the independent reader of the checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL warns of unclosed rings at the extract's edge
        return pyogrio.read_dataframe(path, layer=layer)


def outline(path: Path) -> shapely.Geometry:
    return gpd.read_file(path).geometry.union_all()


def clip_roads(roads: gpd.GeoDataFrame, boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Roads cut at the boundary by geopandas, the empty and point-only pieces left out."""
    cut = roads.clip(boundary)
    return cut[shapely.length(cut.geometry.to_numpy()) > 0]  # degrees: only "not zero" counts


def inside(buildings: gpd.GeoDataFrame, boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Buildings whose representative point is in the boundary."""
    return buildings[buildings.representative_point().within(boundary)]


async def test_the_fixture_city_from_its_pbf(conn, client):
    async with city_imported(conn, FIXTURE_CITY) as base:
        reports = {report.layer: report.as_dict() for report in base.reports}
        city = await fetch_city(conn)
        roads, buildings = await fetch_roads(conn), await fetch_buildings(conn)
        answer = await client.get("/city")
    boundary = outline(BOUNDARY)
    lines = gdal_osm(PBF, "lines")
    expected_roads = clip_roads(lines[lines["highway"].notna()], boundary)
    assert reports["roads"] == {
        "layer": "roads",
        "source": f"{PBF} (roads)",
        "read": 405,
        "kept": 300,
        "dropped": {"outside the boundary": 105},
    }
    assert sorted(roads["id"]) == sorted("w" + expected_roads["osm_id"].astype(str))
    polygons = gdal_osm(PBF, "multipolygons")
    expected = inside(polygons[polygons["building"].notna()], boundary)
    ids = np.where(
        expected["osm_way_id"].notna(), "w" + expected["osm_way_id"], "r" + expected["osm_id"]
    )
    assert sorted(buildings["id"]) == sorted([*ids, GDAL_FOLDED])
    assert (reports["buildings"]["read"], reports["buildings"]["kept"]) == (83, 65)
    # Tags mapped onto typed columns.
    esplanadi = roads[roads["name"] == "Pohjoisesplanadi"]
    assert set(esplanadi["road_class"]) == {"primary"} and set(esplanadi["maxspeed"]) == {30.0}
    assert roads["oneway"].value_counts().to_dict() == {True: 73, False: 1}
    assert buildings["levels"].notna().sum() == 25 and buildings["year"].max() == 1969
    # The record, derived from the boundary.
    assert (city.name, city.timezone, city.epsg) == ("Helsinki centre", "Europe/Helsinki", 32635)
    assert city.attribution == "© OpenStreetMap contributors, ODbL 1.0"
    assert city.boundary.equals(boundary)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    document = answer.json()
    assert document["properties"] == {
        "name": "Helsinki centre",
        "timezone": "Europe/Helsinki",
        "epsg": 32635,
        "crs": "EPSG:32635",
        "cell_size": 100.0,
        "step_seconds": 3600,
        "attribution": "© OpenStreetMap contributors, ODbL 1.0",
        "climatology": None,
    }
    assert shape(document["geometry"]).equals(boundary)
    demo = (await client.get("/city")).json()  # restored after the block
    assert demo["properties"]["timezone"] == "Europe/Vaduz"


async def test_gis_files_with_a_declared_column_mapping(conn, tmp_path):
    base_roads = gdal_osm(PBF, "lines")
    roads = base_roads[base_roads["highway"].notna()].rename(columns={"highway": "kind"})
    roads = roads.to_crs(3067)  # a national grid: the import reprojects it
    roads.to_file(tmp_path / "city.gpkg", layer="streets")
    polygons = gdal_osm(PBF, "multipolygons")
    houses = polygons[polygons["building"].notna()][["osm_id", "building", "geometry"]]
    houses.to_parquet(tmp_path / "houses.parquet")
    gpd.read_file(BOUNDARY).to_file(tmp_path / "boundary.fgb")
    mapping = tmp_path / "columns.yaml"
    mapping.write_text("roads:\n  road_class: kind\n")
    sources = CitySources(
        name="Files",
        boundary=Source(tmp_path / "boundary.fgb"),
        roads=Source.parse(f"{tmp_path / 'city.gpkg'}#streets"),
        buildings=Source(tmp_path / "houses.parquet"),
        columns=mapping,
    )
    async with city_imported(conn, sources) as base:
        stored = await fetch_roads(conn)
    boundary = outline(BOUNDARY)
    assert len(stored) == len(clip_roads(roads.to_crs(4326), boundary)) == 300
    assert len(base.buildings) == len(inside(houses, boundary)) == 64
    assert base.city.attribution == ""


def write_shapefile_without_crs(path: Path) -> Path:
    frame = gpd.read_file(BOUNDARY)
    frame.to_file(path)
    path.with_suffix(".prj").unlink()
    return path


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda tmp: _garbage(tmp / "boundary.gpkg"), "boundary.gpkg: cannot be read"),
        (lambda tmp: _line(tmp / "line.geojson"), "the boundary must be a polygon, not LineString"),
        (lambda tmp: write_shapefile_without_crs(tmp / "b.shp"), "b.shp: has no CRS"),
    ],
    ids=["unreadable", "not a polygon", "no CRS"],
)
async def test_bad_boundaries_leave_the_previous_base(conn, tmp_path, make, error):
    before = len(await fetch_roads(conn))
    path = make(tmp_path)
    with pytest.raises(MalformedInput, match=error) as raised:
        await import_city(conn, CitySources(name="Bad", boundary=Source(path)))
    assert str(path) in str(raised.value)
    assert (await fetch_city(conn)).timezone == "Europe/Vaduz"
    assert len(await fetch_roads(conn)) == before == 605


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not a geopackage")
    return path


def _line(path: Path) -> Path:
    gpd.GeoDataFrame(geometry=[shapely.LineString([(24.9, 60.1), (25.0, 60.2)])], crs=4326).to_file(
        path
    )
    return path


async def test_nothing_inside_and_unreadable_pbfs_are_refused(conn, tmp_path):
    far = CitySources(
        name="Far",
        boundary=Source(BOUNDARY),
        buildings=Source(ROOT / "gis_data" / "buildings.geojson"),  # Vaduz's, not Helsinki's
    )
    with pytest.raises(MalformedInput) as raised:
        await import_city(conn, far)
    assert str(raised.value) == (
        f"{ROOT / 'gis_data' / 'buildings.geojson'}: no buildings inside the boundary (498 read, "
        "dropped: 498 outside the boundary)"
    )
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(MalformedInput, match=f"{broken}: cannot be read as OSM PBF"):
        await import_city(conn, CitySources(name="X", pbf=broken, boundary=Source(BOUNDARY)))
    with pytest.raises(MalformedInput, match="no administrative area named 'Atlantis'"):
        await import_city(conn, CitySources(name="X", pbf=PBF, boundary_name="Atlantis"))
    assert (await fetch_city(conn)).name == "Vaduz"


async def test_a_boundary_alone_runs_no_model_that_needs_roads(conn, settings):
    alone = CitySources(name="Only a boundary", boundary=Source(BOUNDARY))
    async with city_imported(conn, alone) as base:
        assert (len(base.roads), len(base.buildings)) == (0, 0)
        text = "name: T\nbaseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z}\n"
        with pytest.raises(InvalidParameter) as raised:
            await prepare(conn, parse_scenario(text), settings)
    assert raised.value.parameter == "baseline.variables"
    assert raised.value.message == (
        "no2, pm25, pm10 need the city's roads, and Only a boundary was imported without any"
    )


def meter_rows(buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Two meters in the fixture city's first two buildings, a day of 2 and 5 kWh an hour."""
    points = buildings.geometry.iloc[:2].representative_point()
    times = pd.date_range("2026-11-03", periods=24, freq="h").strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.concat(
        pd.DataFrame(
            {
                "sensor_id": f"HM{i}",
                "lon": point.x,
                "lat": point.y,
                "time": times,
                "variable": "energy_kwh",
                "value": kwh,
                "unit": "kWh",
            }
        )
        for i, (point, kwh) in enumerate(zip(points, (2.0, 5.0), strict=True))
    )


async def test_a_scenario_in_another_zone_on_another_cell_size(
    pool, conn, client, settings, tmp_path
):
    sources = CitySources(
        name="Helsinki centre", pbf=PBF, boundary=Source(BOUNDARY), cell_size=50.0
    )
    text = (
        "name: Helsinki energy\nbaseline: {start: 2026-11-03T00:00:00Z, "
        "end: 2026-11-04T00:00:00Z, variables: [energy_demand]}\n"
    )
    store = LayerStore(tmp_path)
    async with city_imported(conn, sources) as base:
        await post_readings(client, meter_rows(base.buildings), feed="energy")
        prepared = await prepare(conn, parse_scenario(text), settings)
        result = await execute(pool, prepared, store, RunControl())
    layer = store.open(result.layer)
    parameters = store.provenance(result.layer).parameters
    assert dict(layer.sizes) == {"time": 24, "y": 10, "x": 9}  # 450 m x 420 m in 50 m cells
    assert layer.attrs["time_step_seconds"] == 3600
    assert parameters["grid"] == {
        "epsg": 32635,
        "cell_size": 50.0,
        "west": 385_700.0,
        "north": 6_672_150.0,
        "nx": 9,
        "ny": 10,
    }
    assert parameters["building-energy"]["timezone"] == "Europe/Helsinki"
    assert parameters["building-energy"]["longitude"] == pytest.approx(24.944, abs=1e-3)
    assert parameters["meteorology"]["climatology"]["name"] == "generic-mid-latitude"
    # Calibrated on the meters: each metered building's modelled day is its meter's day.
    report = orjson.loads(store.attributes(result.layer)["citytwin_calibration"])["building-energy"]
    assert [(m["sensor"], m["match"], m["metered_kwh"]) for m in report] == [
        ("energy:HM0", "inside", 48.0),
        ("energy:HM1", "inside", 120.0),
    ]
    for meter in report:
        assert meter["factor"] * meter["modelled_kwh"] == pytest.approx(meter["metered_kwh"])
