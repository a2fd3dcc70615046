"""A real OGC API - EDR client, not written by us, against a live server: OWSLib."""

import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest
import requests
import xarray as xr
from owslib.ogcapi.edr import EnvironmentalDataRetrieval
from pyproj import Transformer

from citytwin.api.app import create_app
from citytwin.layers.store import LayerStore
from citytwin.settings import Settings
from tests.layers.sample import TRIANGLE, centres_in, sample_layer
from tests.live_server import serve

TO_LONLAT = Transformer.from_crs(32632, 4326, always_xy=True)
CUBE = (9.4977, 47.1900, 9.5030, 47.1927)  # lon/lat: the centres of rows 2..4, cols 2..5


@dataclass(frozen=True)
class LiveEdr:
    url: str  # the EDR landing page
    layer: xr.Dataset  # the served layer, read from the store
    layer_id: str


@pytest.fixture(scope="module")
async def live_edr(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveEdr]:
    """The API served by a real uvicorn over a layer store of one layer."""
    folder = tmp_path_factory.mktemp("layers")
    store = LayerStore(folder)
    layer_id = store.write(*sample_layer())
    app = create_app(settings.updated(layer_store=str(folder)))
    async with serve(app) as base:
        yield LiveEdr(f"{base}/edr", store.open(layer_id).load(), layer_id)


@pytest.fixture
def edr(live_edr: LiveEdr, monkeypatch: pytest.MonkeyPatch) -> EnvironmentalDataRetrieval:
    """OWSLib's EDR client on the live server."""
    # OWSLib sets no HTTP timeout: give it one, so a hung server fails the test, not hangs it.
    monkeypatch.setattr(requests, "get", functools.partial(requests.get, timeout=10))
    return EnvironmentalDataRetrieval(live_edr.url)


def values(coverage: dict, name: str) -> np.ndarray:
    """A CoverageJSON range as a float array of its shape, null as NaN."""
    ranges = coverage["ranges"][name]
    return np.array(ranges["values"], dtype=float).reshape(ranges["shape"])


def test_owslib_lists_the_layer_and_reads_its_metadata(edr, live_edr):
    assert (
        "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core" in edr.conformance()["conformsTo"]
    )
    assert "/edr/collections/{layer_id}/area" in edr.api()["paths"]  # via service-desc
    assert live_edr.layer_id in [c["id"] for c in edr.collections()["collections"]]
    assert edr.data() == [live_edr.layer_id]  # the collections with data links
    meta = edr.collection(live_edr.layer_id)
    area = meta["data_queries"]["area"]["link"]["variables"]
    assert (area["output_formats"], area["default_output_format"]) == (
        ["CoverageJSON", "JSON", "NetCDF"],
        "CoverageJSON",
    )
    lon, lat = live_edr.layer["lon"].values, live_edr.layer["lat"].values
    west, south, east, north = meta["extent"]["spatial"]["bbox"][0]
    assert west < lon.min() < lon.max() < east
    assert south < lat.min() < lat.max() < north
    assert set(meta["parameter_names"]) == {"no2", "nearest_sensor_distance"}


def test_owslib_position_is_the_layers_cell_series(edr, live_edr):
    # 20 m east and 30 m south of the centre of the cell at row 4, col 6.
    x, y = 537_500 + 650 + 20, 5_226_900 - 450 - 30
    lon, lat = TO_LONLAT.transform(x, y)
    coverage = edr.query_data(
        live_edr.layer_id,
        "position",
        coords=f"POINT({lon} {lat})",
        datetime_="2026-11-02T01:00:00Z/..",
    )
    assert coverage["domain"]["domainType"] == "PointSeries"
    assert coverage["domain"]["axes"]["t"]["values"] == [
        "2026-11-02T01:00:00Z",
        "2026-11-02T02:00:00Z",
        "2026-11-02T03:00:00Z",
    ]
    cell = live_edr.layer.sel(x=x, y=y, method="nearest").isel(time=slice(1, None))
    assert (float(cell["x"]), float(cell["y"])) == (538_150.0, 5_226_450.0)
    for name in ("no2", "nearest_sensor_distance"):
        np.testing.assert_allclose(values(coverage, name), cell[name].values, rtol=1e-7)


def test_owslib_area_is_the_layers_cells_in_the_polygon(edr, live_edr):
    layer = live_edr.layer
    coverage = edr.query_data(live_edr.layer_id, "area", coords=TRIANGLE.wkt)
    assert coverage["domain"]["domainType"] == "Grid"
    inside = xr.DataArray(centres_in(layer, TRIANGLE), dims=("y", "x"))
    assert int(inside.sum()) == 28
    for name in ("no2", "nearest_sensor_distance"):
        got = values(coverage, name)
        want = layer[name].where(inside, drop=True)  # the smallest window holding them
        assert got.shape == want.shape == (4, 7, 7)
        assert coverage["domain"]["axes"]["x"]["values"] == want["x"].values.tolist()
        assert coverage["domain"]["axes"]["y"]["values"] == want["y"].values.tolist()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want.values))
        np.testing.assert_allclose(
            got[~np.isnan(got)], layer[name].values[:, inside.values].ravel(), rtol=1e-7
        )


def test_owslib_cube_is_the_bbox_window(edr, live_edr):
    layer = live_edr.layer
    coverage = edr.query_data(live_edr.layer_id, "cube", bbox=list(CUBE))
    west, south, east, north = CUBE
    lon, lat = layer["lon"], layer["lat"]
    in_bbox = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    window = layer.where(in_bbox, drop=True)  # the smallest window holding those centres
    assert (int(in_bbox.sum()), window.sizes["y"], window.sizes["x"]) == (12, 3, 4)
    assert coverage["domain"]["axes"]["x"]["values"] == layer["x"].values[2:6].tolist()
    assert coverage["domain"]["axes"]["y"]["values"] == layer["y"].values[2:5].tolist()
    for name in ("no2", "nearest_sensor_distance"):
        got = values(coverage, name)
        assert got.shape == (4, 3, 4)
        np.testing.assert_allclose(got, window[name].values, rtol=1e-7)


def test_owslib_parameter_names_is_refused_not_ignored(edr, live_edr):
    # OWSLib sends `parameter_names`, not the standard `parameter-name`: ignoring it would
    # answer every parameter as if filtered; a 400 naming it tells the user instead.
    with pytest.raises(RuntimeError) as refused:  # OWSLib raises the body of any non-2xx
        edr.query_data(
            live_edr.layer_id, "position", coords="POINT(9.52 47.19)", parameter_names=["no2"]
        )
    body = json.loads(str(refused.value))
    assert (body["error"], body["parameter"]) == ("InvalidParameter", "parameter_names")
    assert "parameter-name" in body["detail"]  # the standard name it should use


def test_owslib_position_in_the_layers_own_crs(edr, live_edr):
    x, y = 537_500 + 650 + 20, 5_226_900 - 450 - 30  # as in the lon/lat test above
    coverage = edr.query_data(
        live_edr.layer_id,
        "position",
        coords=f"POINT({x} {y})",
        crs="http://www.opengis.net/def/crs/EPSG/0/32632",
    )
    cell = live_edr.layer.sel(x=x, y=y, method="nearest")
    np.testing.assert_allclose(values(coverage, "no2"), cell["no2"].values, rtol=1e-7)
