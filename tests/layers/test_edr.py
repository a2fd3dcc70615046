"""`/edr`: OGC API - EDR over the layer store (landing, collections, position, area, cube)."""

import io

import numpy as np
import pytest
import xarray as xr
from shapely.geometry import box

from citytwin.layers.query import bbox_window, grid_of, locate
from citytwin.layers.store import LayerStore
from tests.layers.sample import sample_layer
from tests.layers.test_area_cube import INNER, serve


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[LayerStore, str]:
    store = LayerStore(tmp_path_factory.mktemp("layers"))
    return store, store.write(*sample_layer())


@pytest.fixture(scope="module")
async def edr_client(settings, pool, stored):
    async with serve(settings, stored[0]) as client:
        yield client


async def test_landing_and_conformance(edr_client):
    landing = (await edr_client.get("/edr")).json()
    assert {link["rel"] for link in landing["links"]} >= {"conformance", "data", "service-desc"}
    classes = (await edr_client.get("/edr/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/covjson" in classes


async def test_collections(edr_client, stored):
    _, layer_id = stored
    (only,) = (await edr_client.get("/edr/collections")).json()["collections"]
    assert only["id"] == layer_id
    one = (await edr_client.get(f"/edr/collections/{layer_id}")).json()
    assert one == only
    assert set(one["data_queries"]) == {"position", "area", "cube"}
    assert one["extent"]["temporal"]["interval"] == [
        ["2026-11-02T00:00:00Z", "2026-11-02T04:00:00Z"]
    ]
    assert set(one["parameter_names"]) == {"no2", "nearest_sensor_distance"}
    assert (await edr_client.get(f"/edr/collections/{'0' * 32}")).status_code == 404


async def test_position_is_a_point_series(edr_client, stored):
    store, layer_id = stored
    layer = store.open(layer_id)
    lon, lat = float(layer["lon"].values[4, 6]), float(layer["lat"].values[4, 6])
    answer = await edr_client.get(
        f"/edr/collections/{layer_id}/position",
        params={
            "coords": f"POINT({lon} {lat})",
            "datetime": "2026-11-02T01:00:00Z/..",
            "parameter-name": "no2",
            "f": "CoverageJSON",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/prs.coverage+json"
    coverage = answer.json()
    assert coverage["domain"]["domainType"] == "PointSeries"
    assert coverage["domain"]["axes"]["t"]["values"] == [
        "2026-11-02T01:00:00Z",
        "2026-11-02T02:00:00Z",
        "2026-11-02T03:00:00Z",
    ]
    cell = locate(grid_of(layer), lon, lat)
    assert (cell.row, cell.col) == (4, 6)
    np.testing.assert_allclose(
        coverage["ranges"]["no2"]["values"], layer["no2"].values[1:, 4, 6], rtol=1e-7
    )
    assert list(coverage["parameters"]) == ["no2"]


async def test_area_as_the_layers_area(edr_client, stored):
    _, layer_id = stored
    edr = await edr_client.get(
        f"/edr/collections/{layer_id}/area",
        params={"coords": INNER.wkt, "datetime": "2026-11-02T02:30:00Z"},
    )
    assert edr.status_code == 200, edr.text
    plain = await edr_client.get(
        f"/layers/{layer_id}/area",
        params={"polygon": INNER.wkt, "start": "2026-11-02T02:00Z", "end": "2026-11-02T03:00Z"},
    )
    assert edr.json() == plain.json()
    assert len(edr.json()["steps"]) == 1


async def test_cube_in_both_formats(edr_client, stored):
    store, layer_id = stored
    bbox = ",".join(str(v) for v in INNER.bounds)
    layer = store.open(layer_id)
    rows, cols = bbox_window(layer, box(*INNER.bounds))
    covjson = await edr_client.get(
        f"/edr/collections/{layer_id}/cube", params={"bbox": bbox, "parameter-name": "no2"}
    )
    assert covjson.headers["content-type"] == "application/prs.coverage+json"
    ranges = covjson.json()["ranges"]["no2"]
    np.testing.assert_allclose(
        ranges["values"], layer["no2"].values[:, rows, cols].ravel(), rtol=1e-7
    )
    netcdf = await edr_client.get(
        f"/edr/collections/{layer_id}/cube",
        params={"bbox": bbox, "f": "NetCDF", "datetime": "2026-11-02T00:00Z/2026-11-02T02:00Z"},
    )
    assert netcdf.headers["content-type"] == "application/x-netcdf"
    cube = xr.open_dataset(io.BytesIO(netcdf.content), engine="h5netcdf")
    np.testing.assert_array_equal(cube["no2"].values, layer["no2"].values[0:2, rows, cols])


@pytest.mark.parametrize(
    ("query", "params", "parameter"),
    [
        ("position", {"coords": "POINT(9.0 47.0)"}, "coords"),
        ("position", {"coords": "LINESTRING(9 47, 9.1 47)"}, "coords"),
        ("position", {"coords": "POINT(9.52 47.14)", "f": "GeoTIFF"}, "f"),
        ("position", {"coords": "POINT(9.52 47.14)", "parameter-name": "o3"}, "parameter-name"),
        ("area", {"coords": "POLYGON((9 47, 9.01 47, 9.01 47.01, 9 47))"}, "coords"),
        ("area", {"coords": INNER.wkt, "datetime": "2027-01-01T00:00Z"}, "datetime"),
        ("cube", {"bbox": "9.0,47.0,9.01,47.01"}, "bbox"),
        ("cube", {"bbox": "9.5,47.1,9.6,47.2", "datetime": "nonsense/.."}, "datetime"),
    ],
)
async def test_errors_name_the_parameter(edr_client, stored, query, params, parameter):
    answer = await edr_client.get(f"/edr/collections/{stored[1]}/{query}", params=params)
    assert (answer.status_code, answer.json()["parameter"]) == (400, parameter)
