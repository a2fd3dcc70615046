"""`/layers/{id}/area` and `/cube`: polygon statistics, NetCDF and CoverageJSON subsets."""

import io

import numpy as np
import pytest
import shapely
import xarray as xr
from shapely.geometry import box

from citytwin.errors import InvalidParameter
from citytwin.layers.selection import (
    area_statistics,
    bbox_window,
    grid_of,
    polygon_mask,
    steps_between,
    subset,
)
from tests.layers.sample import COLS, INNER, ROWS, sample_layer, serve
from tests.sim.cases import GRID


@pytest.fixture(scope="module")
async def area_client(settings, pool, stored):
    async with serve(settings, stored[0]) as client:
        yield client


def test_polygon_mask_takes_the_centres_inside():
    mask = polygon_mask(GRID, INNER)
    want = np.zeros(GRID.shape, bool)
    want[1:4, 2:6] = True
    np.testing.assert_array_equal(mask, want)
    with pytest.raises(InvalidParameter) as error:
        polygon_mask(GRID, box(9.0, 47.0, 9.01, 47.01))
    assert error.value.parameter == "polygon"


def test_area_statistics_are_numpy_over_the_same_cells():
    layer, _ = sample_layer()
    window = steps_between(layer, "2026-11-02T01:00:00Z", "2026-11-02T03:00:00Z")
    assert (window.first, window.stop) == (1, 3)
    stats = area_statistics(layer, "no2", polygon_mask(GRID, INNER), window)
    cells = layer["no2"].values[1:3, 1:4, 2:6].reshape(2, -1).astype(float)
    assert [s["count"] for s in stats] == [12, 12]
    for got, values in zip(stats, cells, strict=True):
        assert got["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert got["min"] == values.min() and got["max"] == values.max()
        assert got["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)


def test_bbox_window_and_subset_keep_cf():
    layer, _ = sample_layer()
    assert (GRID.west, GRID.north, GRID.cell_size) == (537_500, 5_226_900, 100)
    rows, cols = bbox_window(layer, INNER.envelope)
    assert (rows, cols) == (ROWS, COLS)
    part = subset(layer, ["no2"], rows, cols, steps_between(layer, None, None))
    assert grid_of(part).west == 537_700 and grid_of(part).north == 5_226_800
    np.testing.assert_array_equal(part["no2"].values, layer["no2"].values[:, 1:4, 2:6])
    assert part["no2"].attrs["standard_name"] == layer["no2"].attrs["standard_name"]


async def test_area_endpoint(area_client, stored):
    store, layer_id = stored
    answer = await area_client.get(
        f"/layers/{layer_id}/area", params={"polygon": INNER.wkt, "start": "2026-11-02T02:00Z"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["variable"], body["unit"], body["cells"]) == ("no2", "µg/m³", 12)
    assert [s["time"] for s in body["steps"]] == [
        "2026-11-02T02:00:00+00:00",
        "2026-11-02T03:00:00+00:00",
    ]
    values = store.open(layer_id)["no2"].values[2:4, 1:4, 2:6].reshape(2, -1).astype(float)
    np.testing.assert_allclose([s["mean"] for s in body["steps"]], values.mean(1), rtol=1e-12)
    geojson = shapely.to_geojson(INNER)
    again = await area_client.get(f"/layers/{layer_id}/area", params={"polygon": geojson})
    assert again.json()["steps"][2] == body["steps"][0]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"polygon": "POLYGON((9 47, 9.01 47, 9.01 47.01, 9 47))"}, "polygon"),
        ({"polygon": "nonsense"}, "polygon"),
        ({"polygon": INNER.wkt, "start": "2026-11-03T00:00Z"}, "start"),
        ({"polygon": INNER.wkt, "variable": "o3"}, "variable"),
        ({}, "polygon"),
    ],
)
async def test_area_errors_name_the_parameter(area_client, stored, params, parameter):
    answer = await area_client.get(f"/layers/{stored[1]}/area", params=params)
    assert (answer.status_code, answer.json()["parameter"]) == (400, parameter)


async def test_cube_netcdf_reopens_as_the_subset(area_client, stored):
    store, layer_id = stored
    bbox = ",".join(str(v) for v in INNER.bounds)
    answer = await area_client.get(
        f"/layers/{layer_id}/cube",
        params={"bbox": bbox, "start": "2026-11-02T01:00Z", "end": "2026-11-02T03:00Z"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-netcdf"
    cube = xr.open_dataset(io.BytesIO(answer.content), engine="h5netcdf", decode_coords="all")
    layer = store.open(layer_id)
    want = layer.isel(time=slice(1, 3), y=ROWS, x=COLS)
    for name in ("no2", "nearest_sensor_distance"):
        np.testing.assert_array_equal(cube[name].values, want[name].values)
        assert cube[name].attrs["units"] == want[name].attrs["units"]
    np.testing.assert_array_equal(cube["time"].values, want["time"].values)
    np.testing.assert_array_equal(cube["x"].values, want["x"].values)
    assert cube["no2"].encoding["grid_mapping"] == "spatial_ref"
    raw = xr.open_dataset(io.BytesIO(answer.content), engine="h5netcdf", decode_coords=False)
    assert raw["no2"].attrs["grid_mapping"] == "spatial_ref"
    assert "crs_wkt" in cube["spatial_ref"].attrs
    assert cube.attrs["Conventions"] == "CF-1.8"


async def test_cube_coveragejson(area_client, stored):
    store, layer_id = stored
    bbox = ",".join(str(v) for v in INNER.bounds)
    answer = await area_client.get(
        f"/layers/{layer_id}/cube",
        params={"bbox": bbox, "variable": "no2", "format": "coveragejson"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/prs.coverage+json"
    coverage = answer.json()
    layer = store.open(layer_id)
    want = layer["no2"].isel(y=ROWS, x=COLS)
    assert want.shape[1:] == (3, 4)
    domain = coverage["domain"]
    assert (coverage["type"], domain["domainType"]) == ("Coverage", "Grid")
    assert domain["axes"]["x"]["values"] == want["x"].values.tolist()
    assert domain["axes"]["y"]["values"] == want["y"].values.tolist()
    assert domain["axes"]["t"]["values"][0] == "2026-11-02T00:00:00Z"
    system = domain["referencing"][0]["system"]
    assert system["id"] == "http://www.opengis.net/def/crs/EPSG/0/32632"
    assert coverage["parameters"]["no2"]["unit"]["label"]["en"] == "µg/m³"
    assert "observedProperty" in coverage["parameters"]["no2"]
    ranges = coverage["ranges"]["no2"]
    assert (ranges["type"], ranges["axisNames"]) == ("NdArray", ["t", "y", "x"])
    assert ranges["shape"] == list(want.shape)
    np.testing.assert_allclose(ranges["values"], want.values.ravel(), rtol=1e-7)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": "9.0,47.0,9.01,47.01"}, "bbox"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "9.5,47.1,9.6,47.2", "format": "tiff"}, "format"),
        ({"bbox": "9.5,47.1,9.6,47.2", "end": "2026-11-01T00:00Z"}, "end"),
    ],
)
async def test_cube_errors_name_the_parameter(area_client, stored, params, parameter):
    answer = await area_client.get(f"/layers/{stored[1]}/cube", params=params)
    assert (answer.status_code, answer.json()["parameter"]) == (400, parameter)
    missing = await area_client.get(f"/layers/{'0' * 32}/cube", params=params)
    assert missing.status_code == 404
