"""Vector tiles (MVT, WebMercatorQuad) of cell aggregates, sensors and the city's base layers
(districts, roads, buildings), with TileJSON 3.0.

Every tile carries a strong ETag derived from the version of the data under it, so a client's
`If-None-Match` gets a 304 until data in the tile's cells and time range changes.
"""

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, FeedsDep, PoolDep, SettingsDep
from citytwin.api.formats import json_response
from citytwin.api.params import TimeDep, VariableDep
from citytwin.api.tile_responses import (
    base_tile_answer,
    cells_tile_answer,
    sensors_tile_answer,
    tile_url_template,
)
from citytwin.db.city import fetch_city
from citytwin.errors import CityNotImported
from citytwin.query.cells import Bounds
from citytwin.services.tilesets import (
    CELL_FIELDS,
    DISTRICT_FIELDS,
    attribution,
    cells_drawn_bounds,
    districts_bounds,
    sensor_fields,
    sensors_bounds,
)
from citytwin.tiles.tile_matrix import MAX_ZOOM, resolution_for_zoom

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


def _tilejson(
    template: str,
    layer: str,
    query: dict,
    fields: dict,
    bounds: Bounds | None,
    description: str,
    credit: str,
) -> dict:
    carried = urlencode({k: v for k, v in query.items() if v is not None})
    document = {
        "tilejson": "3.0.0",
        "name": f"citytwin {layer}",
        "description": description,
        "attribution": credit,
        "tiles": [template + (f"?{carried}" if carried else "")],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [{"id": layer, "fields": fields, "minzoom": 0, "maxzoom": MAX_ZOOM}],
    }
    # Without data there is nothing to bound: TileJSON's default (the whole world) holds.
    if bounds is not None:
        west, south, east, north = bounds
        document["bounds"] = list(bounds)
        document["center"] = [(west + east) / 2, (south + north) / 2, 12]
    return document


@router.get("/cells/tilejson.json", summary="TileJSON of the cell tiles")
async def cells_tilejson(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variable: VariableDep,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
    resolution: ResolutionQuery = None,
) -> Response:
    """TileJSON 3.0 whose tile URL carries `variable`, `start`, `end` and `resolution`; its
    `bounds` hold the whole hexagons of the coarsest resolution its zooms draw."""
    query = {"variable": variable.name, "start": start, "end": end, "resolution": resolution}
    coarsest = (
        resolution_for_zoom(0, settings.ingest.h3_resolution) if resolution is None else resolution
    )
    unit = feeds.unit_of(variable.name)
    document = _tilejson(
        tile_url_template(request, "get_cells_tile"),
        "cells",
        query,
        CELL_FIELDS,
        await cells_drawn_bounds(conn, min(coarsest, settings.ingest.h3_resolution)),
        f"H3 cell aggregates of {variable.name}" + (f" ({unit})" if unit else ""),
        attribution(feeds),
    )
    return json_response(document)


@router.get("/sensors/tilejson.json", summary="TileJSON of the sensor tiles")
async def sensors_tilejson(request: Request, conn: ConnDep, feeds: FeedsDep) -> Response:
    """TileJSON 3.0 of the sensor points, with the per-variable fields their tiles carry."""
    document = _tilejson(
        tile_url_template(request, "get_sensors_tile"),
        "sensors",
        {},
        sensor_fields(feeds),
        await sensors_bounds(conn),
        "Sensors with their latest value (and its time) per variable",
        attribution(feeds),
    )
    return json_response(document)


@router.get("/districts/tilejson.json", summary="TileJSON of the district tiles")
async def districts_tilejson(request: Request, conn: ConnDep) -> Response:
    """TileJSON 3.0 of the city's districts (`id`, `name`), bounded by the whole polygons, with
    the attribution the city's base data asks for; 404 before a city is imported."""
    city = await fetch_city(conn)
    if city is None:
        raise CityNotImported
    document = _tilejson(
        tile_url_template(request, "get_base_tile", layer="districts"),
        "districts",
        {},
        DISTRICT_FIELDS,
        await districts_bounds(conn),
        f"The districts of {city.name}",
        city.attribution or "citytwin",
    )
    return json_response(document)


BaseLayer = Annotated[
    Literal["districts", "roads", "buildings"], Path(description="A base layer of the city.")
]


@router.get("/{layer}/{z}/{x}/{y}.mvt", summary="Vector tile of a base layer of the city")
async def get_base_tile(
    request: Request, pool: PoolDep, settings: SettingsDep, layer: BaseLayer, z: Z, x: X, y: Y
) -> Response:
    """The city's districts (`id`, `name`), roads (`id`, `road_class`, `name`) or buildings
    (`id`, `use`, `levels`), as imported: the web map's basemap. Attribution: see /city."""
    return await base_tile_answer(request, pool, settings, layer, z, x, y)
