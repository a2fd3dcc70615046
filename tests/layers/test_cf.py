"""Layers carry CF attributes and a grid mapping that xarray, pyproj and GDAL understand."""

import shutil
import subprocess

import numpy as np
import pytest
import xarray as xr
from pyproj import CRS

from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.store import LayerStore
from tests.layers.sample import sample_layer
from tests.sim.cases import GRID, TIMES


def test_dimensions_coordinates_and_cf_attributes():
    layer, _ = sample_layer()
    assert layer["no2"].dims == ("time", "y", "x")
    assert dict(layer.sizes) == {"time": 4, "y": 8, "x": 10}
    assert layer["no2"].attrs["units"] == "ug m-3"
    assert layer["no2"].attrs["citytwin_unit"] == "µg/m³"
    assert layer["no2"].attrs["standard_name"] == "mass_concentration_of_nitrogen_dioxide_in_air"
    assert layer["no2"].attrs["long_name"] == "nitrogen dioxide concentration"
    assert layer["no2"].attrs["grid_mapping"] == "spatial_ref"
    assert "standard_name" not in layer["nearest_sensor_distance"].attrs  # CF has none for it
    assert layer["x"].attrs["standard_name"] == "projection_x_coordinate"
    assert layer["lat"].dims == ("y", "x") and layer["lat"].attrs["units"] == "degrees_north"
    assert layer.attrs["Conventions"] == "CF-1.8"


def test_grid_mapping_is_the_utm_zone():
    layer, _ = sample_layer()
    mapping = layer["spatial_ref"].attrs
    assert mapping["grid_mapping_name"] == "transverse_mercator"
    assert mapping["longitude_of_central_meridian"] == 9.0
    assert CRS.from_cf(mapping).to_epsg() == 32632
    assert mapping["GeoTransform"] == "537500.0 100.0 0.0 5226900.0 0.0 -100.0"


def test_values_of_the_wrong_shape_are_refused():
    with pytest.raises(
        ValueError, match=r"no2: values of shape \(4, 10, 8\), expected \(4, 8, 10\)"
    ):
        build_layer(GRID, TIMES, [LayerVariable("no2", np.zeros((4, 10, 8)), "µg/m³")])


def test_a_stored_layer_reopens_in_plain_xarray_with_its_crs(tmp_path):
    layer, provenance = sample_layer()
    layer_id = LayerStore(tmp_path).write(layer, provenance)
    opened = xr.open_zarr(tmp_path / f"{layer_id}.zarr", decode_coords="all")
    assert "spatial_ref" in opened.coords
    assert CRS.from_wkt(opened["spatial_ref"].attrs["crs_wkt"]).to_epsg() == 32632
    assert opened["time"].dtype == np.dtype("datetime64[ns]")
    assert str(opened["time"].values[1]) == "2026-11-02T01:00:00.000000000"
    assert opened["no2"].encoding["coordinates"] == "lon lat"


@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="GDAL not installed")
def test_gdal_reads_grid_crs_units_and_nodata(tmp_path):
    layer, provenance = sample_layer()
    layer_id = LayerStore(tmp_path).write(layer, provenance)
    # One time step of one variable as a raster: ZARR:"path":/array:index.
    source = f'ZARR:"{tmp_path / f"{layer_id}.zarr"}":/no2:1'
    info = subprocess.run(["gdalinfo", source], capture_output=True, text=True, check=True).stdout
    assert "Size is 10, 8" in info
    assert 'PROJCRS["WGS 84 / UTM zone 32N"' in info
    assert "Origin = (537500.000000000000000,5226900.000000000000000)" in info
    assert "Pixel Size = (100.000000000000000,-100.000000000000000)" in info
    assert "Unit Type: ug m-3" in info and "NoData Value=nan" in info
    assert "standard_name=mass_concentration_of_nitrogen_dioxide_in_air" in info
