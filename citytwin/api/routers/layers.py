"""`/layers`: stored layers by metadata, point, H3 cell, area, cube, diff and validation."""

from functools import lru_cache
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Header, Query, Response

from citytwin.api.deps import (
    ConnDep,
    LayerId,
    LayerStoreDep,
    ServiceWriterDep,
    SettingsDep,
    VariablesDep,
)
from citytwin.api.formats import (
    GRID_FORMATS,
    TABLE_FORMATS,
    choose_format,
    csv_response,
    feature,
    feature_formats,
    features_response,
    json_response,
)
from citytwin.api.layer_answers import area_answer, cube_answer, part_response
from citytwin.api.params import FormatQuery
from citytwin.errors import InvalidParameter
from citytwin.layers.cells import STATISTICS, cell_statistics, grid_cells
from citytwin.layers.selection import (
    describe,
    difference,
    grid_of,
    locate,
    pick_variable,
    pick_variables,
    point_series,
    steps_between,
    time_window,
    unit_of,
)
from citytwin.layers.store import LayerStore
from citytwin.query.cells import boundary, to_hex
from citytwin.query.params import parse_polygon
from citytwin.services.validation import validation

router = APIRouter(tags=["layers"])


VariableQuery = Annotated[
    str | None, Query(description="Variable of the layer (default: its first).")
]
StartQuery = Annotated[
    str | None, Query(description="ISO 8601 start (default: the layer's first step).")
]
EndQuery = Annotated[str | None, Query(description="ISO 8601 end, exclusive (default: its end).")]


@lru_cache(maxsize=64)
def _cells_of(store: LayerStore, layer_id: str, resolution: int, base: int) -> np.ndarray:
    """H3 cells of a layer's grid-cell centres (layers are immutable, so this keeps)."""
    layer = store.open(layer_id)
    return grid_cells(layer["lon"].values, layer["lat"].values, resolution, base)


@router.get("/layers", summary="Stored layers")
def list_layers(store: LayerStoreDep) -> Response:
    """Every stored layer with its metadata."""
    return json_response(
        {"layers": [describe(store.open(layer_id), layer_id) for layer_id in store.list()]}
    )


@router.get("/layers/{layer_id}", summary="One layer's metadata")
def get_layer(store: LayerStoreDep, layer_id: LayerId) -> Response:
    """Variables, units, grid, time span and provenance of a layer (404 if unknown)."""
    return json_response(describe(store.open(layer_id), layer_id))


@router.get("/layers/{layer_id}/point", summary="Time series of a layer at a point")
def get_point(
    store: LayerStoreDep,
    layer_id: LayerId,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude (EPSG:4326).")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude (EPSG:4326).")],
    variable: VariableQuery = None,
    fmt: FormatQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The values of `variable` in the grid cell holding (lon, lat), per time step."""
    layer = store.open(layer_id)
    name = pick_variable(layer, variable)
    fmt = choose_format(fmt, accept, TABLE_FORMATS)
    cell = locate(grid_of(layer), lon, lat)
    series = point_series(layer, name, cell)
    if fmt == "csv":
        return csv_response(pd.DataFrame(series, columns=["time", "value"]))
    return json_response(
        {
            "layer": layer_id,
            "variable": name,
            "unit": unit_of(layer, name),
            "lon": lon,
            "lat": lat,
            "cell": {
                "row": cell.row,
                "col": cell.col,
                "x": cell.x,
                "y": cell.y,
                "lon": float(layer["lon"].values[cell.row, cell.col]),
                "lat": float(layer["lat"].values[cell.row, cell.col]),
            },
            "series": series,
        }
    )


@router.get("/layers/{layer_id}/cells", summary="A layer averaged into H3 cells")
def get_layer_cells(
    store: LayerStoreDep,
    settings: SettingsDep,
    layer_id: LayerId,
    variable: VariableQuery = None,
    resolution: Annotated[
        int | None,
        Query(ge=0, le=15, description="H3 resolution of the answer (default: the base)."),
    ] = None,
    time: Annotated[
        str | None,
        Query(description="ISO 8601 instant: the time step holding it (default: every step)."),
    ] = None,
    fmt: FormatQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """count, mean, min, max, std of the grid cells (and steps) in each H3 cell, as `/cells`."""
    layer = store.open(layer_id)
    name = pick_variable(layer, variable)
    fmt = choose_format(fmt, accept, feature_formats())
    base = settings.ingest.h3_resolution
    resolution = base if resolution is None else resolution
    window = time_window(layer, time)
    values = layer[name].isel(time=slice(window.first, window.stop)).values
    stats = cell_statistics(values, _cells_of(store, layer_id, resolution, base))
    features = []
    for record in stats.to_dict("records"):
        cell = int(record["cell"])
        properties = {"h3": to_hex(cell)}
        properties |= {key: _number(record[key]) for key in STATISTICS}
        features.append(feature({"type": "Polygon", "coordinates": [boundary(cell)]}, properties))
    return features_response(
        features,
        fmt,
        variable=name,
        unit=unit_of(layer, name),
        resolution=resolution,
        start=window.start,
        end=window.end,
        bucket=None,
        layer=layer_id,
    )


def _number(value: object) -> object:
    """NaN (a std of one value) as None, as `/cells` answers it."""
    return None if isinstance(value, float) and np.isnan(value) else value


@router.get("/layers/{layer_id}/area", summary="Statistics of a layer in a polygon per step")
def get_area(
    store: LayerStoreDep,
    settings: SettingsDep,
    layer_id: LayerId,
    polygon: Annotated[str, Query(description="GeoJSON geometry or WKT polygon (lon/lat).")],
    variable: VariableQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
) -> Response:
    """count, mean, min, max, std of the grid cells whose centres fall in `polygon`, per step."""
    geometry = parse_polygon(polygon, settings.api.area_max_vertices)
    layer = store.open(layer_id)
    window = steps_between(layer, start, end)
    return json_response(area_answer(layer, layer_id, geometry, variable, window, "polygon"))


@router.get("/layers/{layer_id}/cube", summary="A subset of a layer as NetCDF or CoverageJSON")
def get_cube(
    store: LayerStoreDep,
    layer_id: LayerId,
    bbox: Annotated[str, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326).")],
    variable: Annotated[
        str | None, Query(description="Comma-separated variables (default: all).")
    ] = None,
    start: StartQuery = None,
    end: EndQuery = None,
    fmt: Annotated[str, Query(alias="format", description="netcdf or coveragejson.")] = "netcdf",
) -> Response:
    """The grid cells whose centres are in `bbox` (as the smallest grid window) and steps."""
    layer = store.open(layer_id)
    fmt = choose_format(fmt, None, GRID_FORMATS)
    names = pick_variables(layer, variable, "variable")
    window = steps_between(layer, start, end)
    return cube_answer(layer, bbox, names, window, fmt, "bbox")


AgainstQuery = Annotated[str, Query(description="Id of the layer to subtract.")]


def _difference(store: LayerStore, layer_id: str, against: str) -> tuple:
    """The difference layer of `layer_id` minus `against` and its provenance (not stored)."""
    layer = store.open(layer_id)
    if not store.exists(against):
        raise InvalidParameter("against", f"no layer {against!r}")
    return difference(layer, store.open(against), layer_id, against)


@router.get("/layers/{layer_id}/diff", summary="This layer minus another, computed, not stored")
def get_diff(
    store: LayerStoreDep,
    layer_id: LayerId,
    against: AgainstQuery,
    fmt: Annotated[str, Query(alias="format", description="netcdf or coveragejson.")] = "netcdf",
) -> Response:
    """This layer's values minus `against`'s for every variable they share, on every cell and
    step, as NetCDF or CoverageJSON; nothing is stored (POST stores it as a layer)."""
    fmt = choose_format(fmt, None, GRID_FORMATS)
    dataset, _ = _difference(store, layer_id, against)
    return part_response(dataset, dataset, list(dataset.data_vars), fmt, "diff")


@router.post(
    "/layers/{layer_id}/diff",
    summary="Store this layer minus another as a layer",
    status_code=201,
    responses={
        200: {"description": "Stored before: the same layer (the pair of layers is its key)"},
        507: {"description": "The layer store is full"},
    },
)
def post_diff(
    store: LayerStoreDep, _key: ServiceWriterDep, layer_id: LayerId, against: AgainstQuery
) -> Response:
    """Store the difference layer (201, at `Location`) and describe it. Its id is made of the
    two layers', so sending the same pair again stores nothing and answers 200 with the same
    layer; 507 when the store would pass CITYTWIN_LAYER_STORE_MAX_BYTES."""
    dataset, provenance = _difference(store, layer_id, against)
    existed = store.exists(provenance.layer_id())
    diff_id = store.write(dataset, provenance)
    return json_response(
        describe(store.open(diff_id), diff_id),
        200 if existed else 201,
        headers={"Location": f"/layers/{diff_id}"},
    )


@router.get(
    "/layers/{layer_id}/validation",
    summary="A layer's skill: leave-one-station-out scores and its in-sample fit",
    responses={409: {"description": "No sensor measured the layer's variables in its span"}},
)
async def get_validation(
    store: LayerStoreDep, conn: ConnDep, variables: VariablesDep, layer_id: LayerId
) -> Response:
    """Leave-one-station-out bias, RMSE, r, FAIRMODE MQI (MQI90, target terms) per variable,
    method and station beside the baselines, and, labelled `in_sample`, the layer against the
    sensors it was made from."""
    return json_response(await validation(conn, store, layer_id, variables))
