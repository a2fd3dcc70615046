"""Vector tiles (MVT, WebMercatorQuad) of cell aggregates and sensors, with TileJSON 3.0.

Every tile carries a strong ETag derived from the version of the data under it, so a client's
`If-None-Match` gets a 304 until data in the tile's cells and time range changes.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, PoolDep, SettingsDep
from citytwin.api.formats import json_response
from citytwin.api.params import TimeDep, VariableDep
from citytwin.api.tile_responses import (
    cells_tile_answer,
    sensors_tile_answer,
    tile_url_template,
)
from citytwin.db.pool import Connection
from citytwin.tiles.grid import MAX_ZOOM

router = APIRouter(prefix="/tiles", tags=["tiles"])
Z = Annotated[int, Path(description="Zoom level (WebMercatorQuad).")]
X = Annotated[int, Path(description="Tile column.")]
Y = Annotated[int, Path(description="Tile row.")]
IfNoneMatch = Annotated[str | None, Header()]
ResolutionQuery = Annotated[
    int | None, Query(ge=0, le=15, description="H3 resolution (default: follows the zoom).")
]


@router.get("/cells/{z}/{x}/{y}.mvt", summary="Vector tile of H3 cell aggregates")
async def get_cells_tile(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    variable: VariableDep,
    time: TimeDep,
    z: Z,
    x: X,
    y: Y,
    resolution: ResolutionQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Hexagons with `h3`, `count`, `mean`, `min`, `max` of `variable` over `start`/`end`."""
    return await cells_tile_answer(
        request, pool, settings, variable, time, z, x, y, resolution, if_none_match
    )


@router.get("/sensors/{z}/{x}/{y}.mvt", summary="Vector tile of sensors with latest values")
async def get_sensors_tile(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    z: Z,
    x: X,
    y: Y,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Sensor points with `id`, `feed`, `external_id`, `name` and, per variable, the latest
    value and its time (`<variable>`, `<variable>_time`)."""
    return await sensors_tile_answer(request, pool, settings, z, x, y, if_none_match)


async def _bounds(conn: Connection) -> list[float]:
    extent = await conn.fetchrow(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(center) AS e FROM cells) t"
    )
    return [-180.0, -85.05, 180.0, 85.05] if extent[0] is None else list(extent)


def _tilejson(
    request: Request, layer: str, query: dict, fields: dict, bounds: list[float], description: str
) -> dict:
    template = tile_url_template(request, "get_" + layer + "_tile")
    carried = urlencode({k: v for k, v in query.items() if v is not None})
    return {
        "tilejson": "3.0.0",
        "name": f"citytwin {layer}",
        "description": description,
        "tiles": [template + (f"?{carried}" if carried else "")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 12],
        "vector_layers": [{"id": layer, "fields": fields, "minzoom": 0, "maxzoom": MAX_ZOOM}],
    }


@router.get("/cells/tilejson.json", summary="TileJSON of the cell tiles")
async def cells_tilejson(
    request: Request,
    conn: ConnDep,
    variable: VariableDep,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
    resolution: ResolutionQuery = None,
) -> Response:
    """TileJSON 3.0 whose tile URL carries `variable`, `start`, `end` and `resolution`."""
    query = {"variable": variable.name, "start": start, "end": end, "resolution": resolution}
    fields = {"h3": "String", "count": "Number", "mean": "Number", "min": "Number", "max": "Number"}
    document = _tilejson(
        request,
        "cells",
        query,
        fields,
        await _bounds(conn),
        f"H3 cell aggregates of {variable.name}",
    )
    return json_response(document)


@router.get("/sensors/tilejson.json", summary="TileJSON of the sensor tiles")
async def sensors_tilejson(request: Request, conn: ConnDep) -> Response:
    """TileJSON 3.0 of the sensor points."""
    fields = {"id": "Number", "feed": "String", "external_id": "String", "name": "String"}
    document = _tilejson(
        request,
        "sensors",
        {},
        fields,
        await _bounds(conn),
        "Sensors with their latest value per variable",
    )
    return json_response(document)
