"""Pure selections from a layer Dataset: metadata, variable, point, time window."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import xarray as xr
from pyproj import CRS, Transformer

from citytwin.errors import InvalidParameter
from citytwin.layers.cf import GRID_MAPPING, variable_names
from citytwin.query.params import parse_time
from citytwin.sim.grid import Grid

DEFAULT_STEP_SECONDS = 3600


def grid_of(layer: xr.Dataset) -> Grid:
    """The grid a layer lies on, from its grid mapping and geotransform."""
    mapping = layer[GRID_MAPPING].attrs
    west, cell_size, _, north, _, _ = (float(v) for v in mapping["GeoTransform"].split())
    epsg = CRS.from_wkt(mapping["crs_wkt"]).to_epsg()
    return Grid(epsg, cell_size, west, north, layer.sizes["x"], layer.sizes["y"])


def step_seconds(layer: xr.Dataset) -> int:
    """Length of one time step."""
    return int(layer.attrs.get("time_step_seconds", DEFAULT_STEP_SECONDS))


def step_starts(layer: xr.Dataset) -> list[datetime]:
    """The start of each time step, as UTC datetimes."""
    return [
        stamp.to_pydatetime() for stamp in pd.DatetimeIndex(layer["time"].values).tz_localize(UTC)
    ]


def unit_of(layer: xr.Dataset, variable: str) -> str | None:
    """The unit of a variable as the feeds spell it (else its CF units)."""
    attrs = layer[variable].attrs
    return attrs.get("citytwin_unit", attrs.get("units"))


def pick_variable(layer: xr.Dataset, name: str | None) -> str:
    """`name`, or the layer's first variable; InvalidParameter `variable` if it has no such."""
    names = variable_names(layer)
    if name is None:
        return names[0]
    if name not in names:
        raise InvalidParameter(
            "variable", f"{name!r} is not in the layer (has: {', '.join(names)})"
        )
    return name


def describe(layer: xr.Dataset, layer_id: str) -> dict:
    """A layer's metadata: variables, units, grid, time span and provenance."""
    grid = grid_of(layer)
    to_wgs84 = Transformer.from_crs(grid.crs, 4326, always_xy=True)
    starts = step_starts(layer)
    step = step_seconds(layer)
    variables = []
    for name in variable_names(layer):
        attrs = layer[name].attrs
        variables.append(
            {
                "name": name,
                "unit": unit_of(layer, name),
                "units": attrs.get("units"),
                "long_name": attrs.get("long_name"),
                "standard_name": attrs.get("standard_name"),
            }
        )
    return {
        "id": layer_id,
        "title": layer.attrs.get("title"),
        "variables": variables,
        "grid": {
            "crs": f"EPSG:{grid.epsg}",
            "cell_size": grid.cell_size,
            "nx": grid.nx,
            "ny": grid.ny,
            "bounds": list(grid.bounds),
            "bbox": [round(v, 7) for v in to_wgs84.transform_bounds(*grid.bounds)],
            "geotransform": list(grid.geotransform),
        },
        "time": {
            "start": starts[0],
            "end": datetime.fromtimestamp(starts[-1].timestamp() + step, UTC),
            "step_seconds": step,
            "steps": len(starts),
        },
        "provenance": orjson.loads(layer.attrs["citytwin_provenance"]),
        "links": [
            {"rel": "self", "href": f"/layers/{layer_id}"},
            {"rel": "data", "href": f"/layers/{layer_id}/point"},
            {"rel": "data", "href": f"/layers/{layer_id}/cells"},
        ],
    }


@dataclass(frozen=True)
class GridCell:
    """The grid cell holding a point: its row, column and centre."""

    row: int
    col: int
    x: float
    y: float


def locate(grid: Grid, lon: float, lat: float) -> GridCell:
    """The cell of `grid` holding (lon, lat); InvalidParameter `lon`/`lat` outside the grid."""
    x, y = Transformer.from_crs(4326, grid.crs, always_xy=True).transform(lon, lat)
    west, south, east, north = grid.bounds
    if not (math.isfinite(x) and west <= x < east):
        raise InvalidParameter("lon", f"{lon} is outside the layer's grid (at latitude {lat})")
    if not (math.isfinite(y) and south < y <= north):
        raise InvalidParameter("lat", f"{lat} is outside the layer's grid (at longitude {lon})")
    col = min(int((x - west) // grid.cell_size), grid.nx - 1)
    row = min(int((north - y) // grid.cell_size), grid.ny - 1)
    return GridCell(row, col, float(grid.x[col]), float(grid.y[row]))


def point_series(layer: xr.Dataset, variable: str, cell: GridCell) -> list[dict]:
    """(time, value) of `variable` at a grid cell; missing values as None."""
    values = layer[variable].isel(y=cell.row, x=cell.col).values.astype(float)
    return [
        {"time": start, "value": None if np.isnan(value) else float(value)}
        for start, value in zip(step_starts(layer), values, strict=True)
    ]


@dataclass(frozen=True)
class TimeWindow:
    """Steps [first, stop) of a layer and the times they cover."""

    first: int
    stop: int
    start: datetime
    end: datetime


def time_window(layer: xr.Dataset, text: str | None) -> TimeWindow:
    """The step holding the instant `text` (ISO 8601), or every step if None."""
    starts = step_starts(layer)
    step = step_seconds(layer)
    end = datetime.fromtimestamp(starts[-1].timestamp() + step, UTC)
    instant = parse_time(text, "time")
    if instant is None:
        return TimeWindow(0, len(starts), starts[0], end)
    if not starts[0] <= instant < end:
        raise InvalidParameter(
            "time", f"{text} is outside the layer's time span {starts[0]:%FT%TZ}/{end:%FT%TZ}"
        )
    index = int(np.searchsorted([s.timestamp() for s in starts], instant.timestamp(), "right"))
    first = index - 1
    return TimeWindow(
        first, index, starts[first], datetime.fromtimestamp(starts[first].timestamp() + step, UTC)
    )
