"""`/edr`: OGC API - EDR over the layer store (landing, collections, position, area, cube)."""

import io

import numpy as np
import pytest
import shapely
import xarray as xr
from pyproj import Transformer

from citytwin.layers.selection import grid_of, locate
from tests.layers.sample import COLS, INNER, ROWS, TRIANGLE, centres_in, serve


@pytest.fixture(scope="module")
async def edr_client(settings, pool, stored):
    async with serve(settings, stored[0]) as client:
        yield client


async def test_landing_and_conformance(edr_client):
    landing = (await edr_client.get("/edr")).json()
    assert {link["rel"] for link in landing["links"]} >= {"conformance", "data", "service-desc"}
    (desc,) = [link for link in landing["links"] if link["rel"] == "service-desc"]
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"  # OWSLib needs it
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
    queries = {name: q["link"]["variables"] for name, q in one["data_queries"].items()}
    assert {name: q["output_formats"] for name, q in queries.items()} == {
        "position": ["CoverageJSON"],
        "area": ["CoverageJSON", "JSON", "NetCDF"],
        "cube": ["CoverageJSON", "NetCDF"],
    }
    assert {q["default_output_format"] for q in queries.values()} == {"CoverageJSON"}
    data = [link["href"] for link in one["links"] if link["rel"] == "data"]
    assert data == [f"http://citytwin/edr/collections/{layer_id}/{q}" for q in queries]
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
        params={"coords": INNER.wkt, "datetime": "2026-11-02T02:30:00Z", "f": "json"},
    )
    assert edr.status_code == 200, edr.text
    plain = await edr_client.get(
        f"/layers/{layer_id}/area",
        params={"polygon": INNER.wkt, "start": "2026-11-02T02:00Z", "end": "2026-11-02T03:00Z"},
    )
    assert edr.json() == plain.json()
    assert len(edr.json()["steps"]) == 1


async def test_area_is_a_grid_coverage_nulled_outside_the_polygon(edr_client, stored):
    store, layer_id = stored
    layer = store.open(layer_id)
    inside = centres_in(layer, TRIANGLE)
    rows, cols = np.indices(inside.shape)
    np.testing.assert_array_equal(inside, (rows >= 1) & (cols >= 1) & (rows + cols <= 8))
    answer = await edr_client.get(
        f"/edr/collections/{layer_id}/area",
        params={"coords": TRIANGLE.wkt, "datetime": "2026-11-02T01:00:00Z/2026-11-02T03:00:00Z"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/prs.coverage+json"
    coverage = answer.json()
    domain = coverage["domain"]
    assert (coverage["type"], domain["domainType"]) == ("Coverage", "Grid")
    assert domain["axes"]["x"]["values"] == layer["x"].values[1:8].tolist()
    assert domain["axes"]["y"]["values"] == layer["y"].values[1:8].tolist()
    assert domain["axes"]["t"]["values"] == ["2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z"]
    assert domain["referencing"][0]["system"]["id"].endswith("/EPSG/0/32632")
    assert set(coverage["ranges"]) == {"no2", "nearest_sensor_distance"}
    for name, values in coverage["ranges"].items():
        assert (values["shape"], values["axisNames"]) == ([2, 7, 7], ["t", "y", "x"])
        got = np.array(values["values"], dtype=float).reshape(2, 7, 7)
        want = layer[name].values[1:3, 1:8, 1:8].astype(float)
        window = inside[1:8, 1:8]
        assert np.isnan(got[:, ~window]).all()
        np.testing.assert_allclose(got[:, window], want[:, window], rtol=1e-7)
        assert np.count_nonzero(~np.isnan(got)) == 2 * 28


async def test_area_as_netcdf(edr_client, stored):
    store, layer_id = stored
    layer = store.open(layer_id)
    answer = await edr_client.get(
        f"/edr/collections/{layer_id}/area",
        params={"coords": TRIANGLE.wkt, "parameter-name": "no2", "f": "NetCDF"},
    )
    assert answer.headers["content-type"] == "application/x-netcdf"
    area = xr.open_dataset(io.BytesIO(answer.content), engine="h5netcdf")
    assert list(area.data_vars) == ["no2"]
    inside = centres_in(layer, TRIANGLE)
    want = (
        layer["no2"].where(xr.DataArray(inside, dims=("y", "x"))).isel(y=slice(1, 8), x=slice(1, 8))
    )
    xr.testing.assert_allclose(area["no2"].reset_coords(drop=True), want.reset_coords(drop=True))
    assert area["spatial_ref"].attrs["GeoTransform"].split()[::3] == ["537600.0", "5226800.0"]


async def test_cube_in_both_formats(edr_client, stored):
    store, layer_id = stored
    bbox = ",".join(str(v) for v in INNER.bounds)
    layer = store.open(layer_id)
    rows, cols = ROWS, COLS  # hand-computed beside INNER
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
        ("area", {"coords": "POLYGON((9 47, 9.01 47, 9.01 47.01, 9 47))", "f": "json"}, "coords"),
        ("area", {"coords": "POINT(9.52 47.14)"}, "coords"),
        ("area", {"coords": "POLYGON((9.5 47"}, "coords"),
        ("area", {"coords": INNER.wkt, "datetime": "2027-01-01T00:00Z"}, "datetime"),
        ("area", {"coords": INNER.wkt, "f": "GeoTIFF"}, "f"),
        ("area", {"coords": INNER.wkt, "f": "JSON", "parameter-name": "no2,no2"}, "parameter-name"),
        ("cube", {"bbox": "9.0,47.0,9.01,47.01"}, "bbox"),
        ("cube", {"bbox": "9.5,47.1,9.6,47.2", "datetime": "nonsense/.."}, "datetime"),
        ("position", {"coords": "POINT(9.52 47.14)", "parameter_names": "no2"}, "parameter_names"),
        ("position", {"coords": "POINT(9.52 47.14)", "crs": "EPSG:3857"}, "crs"),
        ("cube", {"bbox": "9.5,47.1,9.6,47.2", "crs": "EPSG:32632"}, "bbox"),
    ],
)
async def test_errors_name_the_parameter(edr_client, stored, query, params, parameter):
    answer = await edr_client.get(f"/edr/collections/{stored[1]}/{query}", params=params)
    assert (answer.status_code, answer.json()["parameter"]) == (400, parameter)


async def test_coordinates_in_every_listed_crs_and_covjson(edr_client, stored):
    store, layer_id = stored
    layer = store.open(layer_id)
    crs = (await edr_client.get(f"/edr/collections/{layer_id}")).json()["crs"]
    assert crs == [
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/32632",
    ]
    lon, lat = float(layer["lon"].values[4, 6]), float(layer["lat"].values[4, 6])
    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(lon, lat)
    url = f"/edr/collections/{layer_id}/position"
    in_lonlat = await edr_client.get(url, params={"coords": f"POINT({lon} {lat})", "f": "covjson"})
    answers = [
        await edr_client.get(url, params={"coords": f"POINT({x} {y})", "crs": name})
        for name in (crs[1], "EPSG:32632")
    ]
    assert in_lonlat.status_code == 200
    assert in_lonlat.headers["content-type"] == "application/prs.coverage+json"
    for answer in answers:
        assert answer.json()["ranges"] == in_lonlat.json()["ranges"]
    np.testing.assert_allclose(
        in_lonlat.json()["ranges"]["no2"]["values"], layer["no2"].values[:, 4, 6], rtol=1e-7
    )
    utm_inner = shapely.transform(
        INNER,
        lambda xy: np.column_stack(
            Transformer.from_crs(4326, 32632, always_xy=True).transform(*xy.T)
        ),
    )
    area = f"/edr/collections/{layer_id}/area"
    by_utm = await edr_client.get(
        area, params={"coords": utm_inner.wkt, "crs": crs[1], "f": "json"}
    )
    by_lonlat = await edr_client.get(area, params={"coords": INNER.wkt, "f": "json"})
    assert by_utm.status_code == 200, by_utm.text
    assert by_utm.json()["steps"] == by_lonlat.json()["steps"]
