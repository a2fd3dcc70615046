"""Answers about a stored layer that both `/layers` and OGC API - EDR give: statistics in a
polygon, and a subset as NetCDF or CoverageJSON."""

import xarray as xr
from fastapi import Response
from shapely.geometry.base import BaseGeometry

from citytwin.api.formats import OutputFormat, json_response
from citytwin.errors import InvalidParameter
from citytwin.layers.coverage import MEDIA_TYPE as COVERAGEJSON
from citytwin.layers.coverage import grid_coverage
from citytwin.layers.selection import (
    TimeWindow,
    area_statistics,
    bbox_window,
    grid_of,
    pick_variable,
    polygon_mask,
    subset,
    to_netcdf,
    unit_of,
)
from citytwin.query.params import parse_bbox

NETCDF = OutputFormat.NETCDF.media_type


def area_answer(
    layer: xr.Dataset,
    layer_id: str,
    polygon: BaseGeometry,
    variable: str | None,
    window: TimeWindow,
    parameter: str,
) -> dict:
    """Statistics per step of the grid cells whose centres fall in `polygon` (shared by EDR);
    errors name `parameter`."""
    name = pick_variable(layer, variable)
    mask = polygon_mask(grid_of(layer), polygon, parameter)
    return {
        "layer": layer_id,
        "variable": name,
        "unit": unit_of(layer, name),
        "cells": int(mask.sum()),
        "start": window.start,
        "end": window.end,
        "steps": area_statistics(layer, name, mask, window),
    }


def cube_answer(
    layer: xr.Dataset, bbox: str, variables: list[str], window: TimeWindow, fmt: str, parameter: str
) -> Response:
    """The layer's `variables` on the window of cells centred in `bbox`, as NetCDF or
    CoverageJSON (shared by EDR)."""
    try:
        geometry = parse_bbox(bbox)
    except InvalidParameter as exc:
        raise InvalidParameter(parameter, exc.message) from None
    try:
        rows, cols = bbox_window(layer, geometry)
    except InvalidParameter as exc:
        raise InvalidParameter(parameter, exc.message) from None
    part = subset(layer, variables, rows, cols, window)
    return part_response(layer, part, variables, fmt, "cube")


def part_response(
    layer: xr.Dataset, part: xr.Dataset, variables: list[str], fmt: str, name: str
) -> Response:
    """A part of `layer` as NetCDF (`fmt` netcdf, downloaded as `<name>.nc`) or as a
    CoverageJSON grid in the layer's CRS (shared by EDR)."""
    if fmt == OutputFormat.NETCDF:
        return Response(
            to_netcdf(part),
            media_type=NETCDF,
            headers={"Content-Disposition": f'attachment; filename="{name}.nc"'},
        )
    return json_response(
        grid_coverage(part, variables, grid_of(layer).epsg), media_type=COVERAGEJSON
    )
