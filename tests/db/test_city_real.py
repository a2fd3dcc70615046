"""The two OpenStreetMap extracts of ../shared imported, their counts checked against an
independent geopandas clip of the same data. Runs where ../shared/data is present (CI has it;
CITYTWIN_SHARED names another place); skipped elsewhere."""

import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from citytwin.db.city import fetch_buildings, fetch_districts, fetch_roads
from citytwin.ingest.city.build import CitySources
from citytwin.ingest.city.files import Source
from tests.conftest import ROOT, city_imported

SHARED = Path(os.environ.get("CITYTWIN_SHARED", ROOT.parent / "shared")) / "data" / "real"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason=f"no real data at {SHARED}")
HELSINKI = SHARED / "helsinki_osm"
LIECHTENSTEIN = SHARED / "liechtenstein_osm"


def expected_counts(
    roads: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, boundary: shapely.Geometry
) -> tuple[int, int]:
    """Roads with a piece of line inside the boundary, buildings whose representative point is
    inside it: what geopandas makes of the same files."""
    cut = roads[roads.geometry.notna()].clip(boundary)
    kept_roads = int((shapely.length(cut.geometry.to_numpy()) > 0).sum())
    points = buildings[buildings.geometry.notna()].representative_point()
    return kept_roads, int(points.within(boundary).sum())


async def test_helsinki_from_its_pbf_and_from_its_geojson_export(conn, tmp_path):
    # The western half of the extract: roads and buildings both cut by the boundary.
    boundary = shapely.box(24.930, 60.160, 24.944, 60.180)
    path = tmp_path / "boundary.geojson"
    gpd.GeoDataFrame(geometry=[boundary], crs=4326).to_file(path)
    exported = CitySources(
        name="Helsinki",
        boundary=Source(path),
        roads=Source(HELSINKI / "helsinki_roads.geojson"),
        buildings=Source(HELSINKI / "helsinki_buildings.geojson"),
    )
    async with city_imported(conn, exported):
        file_roads, file_buildings = await fetch_roads(conn), await fetch_buildings(conn)
    source_roads = gpd.read_file(HELSINKI / "helsinki_roads.geojson")
    source_buildings = gpd.read_file(HELSINKI / "helsinki_buildings.geojson")
    expected = expected_counts(source_roads, source_buildings, boundary)
    assert (len(file_roads), len(file_buildings)) == expected == (1054, 167)
    pbf = CitySources(name="Helsinki", pbf=HELSINKI / "Helsinki.osm.pbf", boundary=Source(path))
    async with city_imported(conn, pbf) as base:
        roads, buildings = await fetch_roads(conn), await fetch_buildings(conn)
    # The export's osm_id is the way's or the relation's (`from_way`).
    assert sorted(i[1:] for i in buildings["id"]) == sorted(file_buildings["id"])
    # The export holds the highway areas (squares, `area=yes`) the PBF import leaves out: in
    # the export they are closed rings.
    left_out = source_roads[
        source_roads["osm_id"]
        .astype(str)
        .isin(set(file_roads["id"]) - {i.removeprefix("w") for i in roads["id"]})
    ]
    assert {i.removeprefix("w") for i in roads["id"]} <= set(file_roads["id"])
    assert len(roads) == expected[0] - len(left_out) and left_out.geometry.is_ring.all()
    assert {r.layer: r.read for r in base.reports} == {
        "districts": 0,
        "roads": 2596,  # highway ways that are not areas
        "buildings": 446,
    }
    assert base.city.timezone == "Europe/Helsinki" and base.city.epsg == 32635


async def test_liechtenstein_geojson_with_vaduz_as_boundary(conn, tmp_path):
    districts = gpd.read_file(LIECHTENSTEIN / "districts.geojson")
    vaduz = districts[districts["district"] == "Vaduz"]
    path = tmp_path / "vaduz.gpkg"
    vaduz.to_file(path, layer="boundary")
    sources = CitySources(
        name="Vaduz",
        boundary=Source.parse(f"{path}#boundary"),
        districts=Source(LIECHTENSTEIN / "districts.geojson"),
        roads=Source(LIECHTENSTEIN / "roads.geojson"),
        buildings=Source(LIECHTENSTEIN / "buildings.geojson"),
    )
    async with city_imported(conn, sources) as base:
        roads, buildings = await fetch_roads(conn), await fetch_buildings(conn)
        stored_districts = await fetch_districts(conn)
    boundary = vaduz.geometry.union_all()
    expected = expected_counts(
        gpd.read_file(LIECHTENSTEIN / "roads.geojson"),
        gpd.read_file(LIECHTENSTEIN / "buildings.geojson"),
        boundary,
    )
    assert (len(roads), len(buildings)) == expected
    assert stored_districts["name"].tolist() == ["Vaduz"]  # the neighbours only touch it
    assert base.city.timezone == "Europe/Vaduz"
