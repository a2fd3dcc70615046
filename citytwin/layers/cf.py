"""Layers as CF-convention xarray Datasets: (time, y, x), 2-D lon/lat and a grid mapping."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from citytwin.core.grid import Grid

GRID_MAPPING = "spatial_ref"
# CF standard names of the variables the feeds carry (those that have one).
STANDARD_NAMES = {
    "no2": "mass_concentration_of_nitrogen_dioxide_in_air",
    "o3": "mass_concentration_of_ozone_in_air",
    "pm10": "mass_concentration_of_pm10_ambient_aerosol_particles_in_air",
    "pm25": "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air",
    "speed": "speed",
}
LONG_NAMES = {
    "no2": "nitrogen dioxide concentration",
    "o3": "ozone concentration",
    "pm10": "PM10 concentration",
    "pm25": "PM2.5 concentration",
    "vehicle_count": "traffic volume",
    "speed": "traffic speed",
    "occupancy": "detector occupancy",
    "energy_kwh": "energy consumed",
    "power_kw": "electric power",
}
# Feed units written as UDUNITS, which CF asks for (the feed's own unit is kept alongside).
UDUNITS = {"µg/m³": "ug m-3", "km/h": "km h-1", "veh/h": "h-1", "%": "percent", "kWh": "kW h"}
TIME_ENCODING = {"units": "seconds since 1970-01-01", "calendar": "proleptic_gregorian"}


@dataclass(frozen=True)
class LayerVariable:
    """One gridded variable: its (time, y, x) values and what they mean."""

    name: str
    values: np.ndarray
    unit: str
    long_name: str | None = None
    standard_name: str | None = None
    cell_methods: str | None = None
    ancillary_variables: str | None = None  # e.g. the variable giving this one's support


def variable_attrs(variable: LayerVariable) -> dict:
    """CF attributes of a data variable (the feed unit kept as `citytwin_unit`)."""
    attrs = {
        "units": UDUNITS.get(variable.unit, variable.unit),
        "citytwin_unit": variable.unit,
        "long_name": variable.long_name or LONG_NAMES.get(variable.name, variable.name),
        "grid_mapping": GRID_MAPPING,
    }
    standard_name = variable.standard_name or STANDARD_NAMES.get(variable.name)
    if standard_name:
        attrs["standard_name"] = standard_name
    if variable.cell_methods:
        attrs["cell_methods"] = variable.cell_methods
    if variable.ancillary_variables:
        attrs["ancillary_variables"] = variable.ancillary_variables
    return attrs


def grid_mapping(grid: Grid) -> xr.DataArray:
    """The CF grid-mapping variable, with the WKT and geotransform GDAL and rioxarray read."""
    attrs = grid.crs.to_cf()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(repr(value) for value in grid.geotransform)
    return xr.DataArray(np.int32(0), attrs=attrs)


def build_layer(
    grid: Grid,
    times: pd.DatetimeIndex,
    variables: list[LayerVariable],
    attrs: dict | None = None,
) -> xr.Dataset:
    """A layer Dataset of `variables` on `grid` at `times` (naive UTC step starts)."""
    lon, lat = grid.lonlat
    coords = {
        "time": ("time", times.to_numpy(dtype="datetime64[ns]"), {"standard_name": "time"}),
        "y": (
            "y",
            grid.y,
            {"standard_name": "projection_y_coordinate", "units": "m", "axis": "Y"},
        ),
        "x": (
            "x",
            grid.x,
            {"standard_name": "projection_x_coordinate", "units": "m", "axis": "X"},
        ),
        "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
        "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
        GRID_MAPPING: grid_mapping(grid),
    }
    expected = (len(times), *grid.shape)
    for v in variables:
        if v.values.shape != expected:
            raise ValueError(f"{v.name}: values of shape {v.values.shape}, expected {expected}")
    # GDAL's Zarr driver reads the CRS from its own `_CRS` attribute, not the CF grid mapping.
    gdal_crs = {"_CRS": {"wkt": grid.crs.to_wkt()}}
    data = {
        v.name: (("time", "y", "x"), v.values, {**variable_attrs(v), **gdal_crs}) for v in variables
    }
    # Zarr lists arrays by name; the layer keeps its own order (the first is the main variable).
    order = " ".join(v.name for v in variables)
    dataset = xr.Dataset(
        data,
        coords=coords,
        attrs={"Conventions": "CF-1.8", "citytwin_variables": order, **(attrs or {})},
    )
    dataset["time"].encoding.update(TIME_ENCODING, dtype="int64")
    for name in dataset.data_vars:
        dataset[name].encoding["coordinates"] = "lon lat"  # the grid mapping is named apart
    return dataset


def variable_names(layer: xr.Dataset) -> list[str]:
    """The layer's variables in the order it was built with."""
    return layer.attrs.get("citytwin_variables", " ".join(layer.data_vars)).split()
