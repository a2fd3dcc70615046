"""Pure selections from a layer Dataset: metadata, variable, point, time window."""

import hashlib
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import shapely
import xarray as xr
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.layers.cf import (
    GRID_MAPPING,
    TIME_ENCODING,
    LayerVariable,
    build_layer,
    variable_names,
)
from citytwin.layers.provenance import Provenance
from citytwin.query.params import parse_time, parse_time_range

DEFAULT_STEP_SECONDS = 3600
# Encoding a NetCDF subset keeps from the Zarr layer (not its chunks or compressors).
KEPT_ENCODING = ("units", "calendar", "dtype", "grid_mapping", "coordinates", "_FillValue")


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


def pick_variables(layer: xr.Dataset, text: str | None, parameter: str) -> list[str]:
    """Comma-separated variable names (default: every variable of the layer)."""
    if not text:
        return variable_names(layer)
    names = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return [pick_variable(layer, name) for name in names]
    except InvalidParameter as exc:
        raise InvalidParameter(parameter, exc.message) from None


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
            {"rel": "data", "href": f"/layers/{layer_id}/area"},
            {"rel": "data", "href": f"/layers/{layer_id}/cube"},
            {"rel": "related", "href": f"/layers/{layer_id}/validation"},
            {"rel": "alternate", "href": f"/edr/collections/{layer_id}"},
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


def steps_between(layer: xr.Dataset, start: str | None, end: str | None) -> TimeWindow:
    """The steps overlapping [start, end) (ISO 8601; open ends take the layer's span);
    InvalidParameter `start`/`end` if the range misses the layer."""
    time_range = parse_time_range(start, end)
    starts = np.array([s.timestamp() for s in step_starts(layer)])
    step = step_seconds(layer)
    low = -np.inf if time_range.start is None else time_range.start.timestamp()
    high = np.inf if time_range.end is None else time_range.end.timestamp()
    inside = np.flatnonzero((starts + step > low) & (starts < high))
    if inside.size == 0:
        span_end = datetime.fromtimestamp(starts[-1] + step, UTC)
        span = f"{datetime.fromtimestamp(starts[0], UTC):%FT%TZ}/{span_end:%FT%TZ}"
        parameter = "start" if time_range.start and low >= starts[-1] + step else "end"
        raise InvalidParameter(parameter, f"the range misses the layer's time span {span}")
    first, stop = int(inside[0]), int(inside[-1]) + 1
    return TimeWindow(
        first,
        stop,
        datetime.fromtimestamp(starts[first], UTC),
        datetime.fromtimestamp(starts[stop - 1] + step, UTC),
    )


def polygon_mask(grid: Grid, geometry: BaseGeometry, parameter: str = "polygon") -> np.ndarray:
    """(ny, nx) booleans: the grid cells whose centres fall in `geometry` (lon/lat), tested in
    the grid's CRS; InvalidParameter `parameter` if no centre does."""
    to_grid = Transformer.from_crs(4326, grid.crs, always_xy=True)
    projected = shapely.transform(geometry, lambda xy: np.column_stack(to_grid.transform(*xy.T)))
    xx, yy = np.meshgrid(grid.x, grid.y)
    mask = shapely.contains_xy(projected, xx, yy)
    if not mask.any():
        raise InvalidParameter(parameter, "holds no grid-cell centre of the layer")
    return mask


def area_statistics(
    layer: xr.Dataset, variable: str, mask: np.ndarray, window: TimeWindow
) -> list[dict]:
    """count, mean, min, max, std (n - 1) of the masked grid cells per time step; missing
    values left out (None where a step has none)."""
    values = layer[variable].isel(time=slice(window.first, window.stop)).values
    inside = values[:, mask].astype(np.float64)
    count = np.sum(~np.isnan(inside), axis=1)
    with warnings.catch_warnings():  # all-missing steps: NaN, answered as None
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, low, high = np.nanmean(inside, 1), np.nanmin(inside, 1), np.nanmax(inside, 1)
        std = np.nanstd(inside, axis=1, ddof=1)
    starts = step_starts(layer)[window.first : window.stop]
    return [
        {
            "time": start,
            "count": int(count[i]),
            "mean": _finite(mean[i]),
            "min": _finite(low[i]),
            "max": _finite(high[i]),
            "std": _finite(std[i]),
        }
        for i, start in enumerate(starts)
    ]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bbox_window(layer: xr.Dataset, geometry: BaseGeometry) -> tuple[slice, slice]:
    """(rows, cols): the smallest grid window holding every cell whose centre (lon/lat) lies
    in the bbox `geometry`; InvalidParameter `bbox` if none does."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    lon, lat = layer["lon"].values, layer["lat"].values
    inside = (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    if not inside.any():
        raise InvalidParameter("bbox", "holds no grid-cell centre of the layer")
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def subset(
    layer: xr.Dataset, variables: list[str], rows: slice, cols: slice, window: TimeWindow
) -> xr.Dataset:
    """The layer's `variables` on a grid window and steps, CF attributes kept and the grid
    mapping's geotransform moved to the window's corner."""
    grid = grid_of(layer)
    part = layer[[*variables]].isel(time=slice(window.first, window.stop), y=rows, x=cols).load()
    west = grid.west + (cols.start or 0) * grid.cell_size
    north = grid.north - (rows.start or 0) * grid.cell_size
    mapping = dict(layer[GRID_MAPPING].attrs)
    mapping["GeoTransform"] = " ".join(
        repr(v) for v in (west, grid.cell_size, 0.0, north, 0.0, -grid.cell_size)
    )
    part[GRID_MAPPING] = xr.DataArray(np.int32(0), attrs=mapping)
    part = part.set_coords(GRID_MAPPING)
    part.attrs = {**layer.attrs, "citytwin_variables": " ".join(variables)}
    return part


def to_netcdf(part: xr.Dataset) -> bytes:
    """A layer subset as NetCDF-4 bytes (CF attributes; GDAL's Zarr-only `_CRS` left out)."""
    out = part.copy()
    for name in out.variables:
        out[name].attrs = {k: v for k, v in out[name].attrs.items() if k != "_CRS"}
        out[name].encoding = {k: v for k, v in out[name].encoding.items() if k in KEPT_ENCODING}
    out["time"].encoding.update(TIME_ENCODING, dtype="int64")
    return bytes(out.to_netcdf(engine="h5netcdf"))


def difference(a: xr.Dataset, b: xr.Dataset, a_id: str, b_id: str) -> tuple[xr.Dataset, Provenance]:
    """`a` minus `b` for every variable they share, as a layer with its provenance (model
    "diff"); InvalidParameter `against` unless both lie on the same grid and steps."""
    if grid_of(a) != grid_of(b):
        raise InvalidParameter("against", f"layer {b_id} is not on the grid of layer {a_id}")
    if step_seconds(a) != step_seconds(b) or not np.array_equal(a["time"].values, b["time"].values):
        raise InvalidParameter("against", f"layer {b_id} has other time steps than {a_id}")
    names = [name for name in variable_names(a) if name in variable_names(b)]
    if not names:
        raise InvalidParameter("against", f"layers {a_id} and {b_id} share no variable")
    variables = []
    for name in names:
        attrs = a[name].attrs
        values = a[name].values - b[name].values
        variables.append(
            LayerVariable(
                name,
                values,
                attrs.get("citytwin_unit", attrs.get("units")),
                long_name=f"difference of {attrs.get('long_name', name)}",
            )
        )
    starts = step_starts(a)
    end = datetime.fromtimestamp(starts[-1].timestamp() + step_seconds(a), UTC)
    title = f"{a.attrs.get('title') or a_id} minus {b.attrs.get('title') or b_id}"
    layer = build_layer(
        grid_of(a),
        pd.DatetimeIndex(a["time"].values),
        variables,
        attrs={"title": title, "time_step_seconds": step_seconds(a)},
    )
    provenance = Provenance(
        model="diff",
        parameters={"a": a_id, "b": b_id},
        input_start=starts[0],
        input_end=end,
        inputs_hash=hashlib.sha256(f"{a_id}-{b_id}".encode()).hexdigest(),
        scenario=orjson.loads(a.attrs.get("citytwin_provenance", "{}")).get("scenario", "diff"),
    )
    return layer, provenance


def datetime_window(layer: xr.Dataset, text: str | None) -> TimeWindow:
    """The steps an EDR `datetime` names: an instant, `start/end` (`..` open), or all steps;
    errors name `datetime`."""
    try:
        if text is None or not text.strip():
            return steps_between(layer, None, None)
        if "/" not in text:
            return time_window(layer, text)
        start, _, end = text.partition("/")
        open_end = ("", "..")
        return steps_between(
            layer, None if start in open_end else start, None if end in open_end else end
        )
    except InvalidParameter as exc:
        raise InvalidParameter("datetime", exc.message) from None
