"""Vector tiles (MVT, WebMercatorQuad) of cell aggregates and sensors, with TileJSON 3.0.

Every tile carries a strong ETag derived from the version of the data under it, so a client's
`If-None-Match` gets a 304 until data in the tile's cells and time range changes.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Path, Query, Request, Response
from shapely.geometry import box

from citytwin.api.deps import ConnDep, PoolDep, SettingsDep
from citytwin.api.formats import json_response
from citytwin.api.params import TimeDep, VariableDep
from citytwin.api.tile_responses import (
    accepts_gzip,
    etag_matches,
    tile_cache,
    tile_response,
    tile_url_template,
    version_cache,
)
from citytwin.db.pool import Connection
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.db.queries.tiles import cells_tile, data_version, sensors_tile, sensors_version
from citytwin.errors import InvalidParameter
from citytwin.query.cells import grow_by_cells, hexagon_wkb, to_hex
from citytwin.query.params import Area, widen_to_buckets
from citytwin.tiles.cache import CachedTile, tile_etag
from citytwin.tiles.grid import MAX_ZOOM, parse_tile, resolution_for_zoom

router = APIRouter(prefix="/tiles", tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
Z = Annotated[int, Path(description="Zoom level (WebMercatorQuad).")]
X = Annotated[int, Path(description="Tile column.")]
Y = Annotated[int, Path(description="Tile row.")]
IfNoneMatch = Annotated[str | None, Header()]
ResolutionQuery = Annotated[
    int | None, Query(ge=0, le=15, description="H3 resolution (default: follows the zoom).")
]


def _tile_response(
    request: Request, tile: CachedTile, max_age: int, if_none_match: str | None
) -> Response:
    cache_control = f"public, max-age={max_age}, must-revalidate"
    gzipped = tile.gzipped if accepts_gzip(request) else None
    return tile_response(tile.body, MVT, tile.etag, cache_control, if_none_match, gzipped)


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
    tile = parse_tile(z, x, y)
    base = settings.h3_resolution
    shown = resolution_for_zoom(z, base) if resolution is None else resolution
    if shown > base:
        raise InvalidParameter("resolution", f"must be at most the base resolution {base}")
    time = widen_to_buckets(time, settings.rollup_bucket_seconds)
    # Hexagons centred outside the tile may still reach into it: search a grown area.
    bounds = grow_by_cells(tile.bounds, shown)

    async def fetch_version() -> tuple[int, int]:
        async with pool.acquire() as conn:
            return await data_version(conn, bounds, variable.id, time.start, time.end)

    params = (variable.name, shown, time.start, time.end)
    version = await version_cache(request).get(("cells", bounds, params), fetch_version)
    etag = tile_etag("cells", tile, params, version)
    if etag_matches(etag, if_none_match):
        return _tile_response(request, CachedTile(etag, b""), settings.tile_max_age, if_none_match)
    key = ("cells", tile, params)
    cached = tile_cache(request).entry(key, etag)
    if cached is None:
        query = CellQuery(variable.id, shown, Area(geometry=box(*bounds)), time)
        async with pool.acquire() as conn:
            rows = await cell_aggregates(conn, query, base, settings.rollup_bucket_seconds)
            properties = [
                {
                    "h3": to_hex(r["cell"]),
                    "count": r["count"],
                    "mean": r["mean"],
                    "min": r["min"],
                    "max": r["max"],
                }
                for r in rows
            ]
            hexagons = [hexagon_wkb(r["cell"]) for r in rows]
            body = await cells_tile(conn, tile, hexagons, properties)
        cached = tile_cache(request).put(key, etag, body, compress=True)
    return _tile_response(request, cached, settings.tile_max_age, if_none_match)


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
    tile = parse_tile(z, x, y)

    async def fetch_version() -> tuple[int, int]:
        async with pool.acquire() as conn:
            return await sensors_version(conn, tile)

    version = await version_cache(request).get(("sensors", tile), fetch_version)
    etag = tile_etag("sensors", tile, (), version)
    if etag_matches(etag, if_none_match):
        return _tile_response(request, CachedTile(etag, b""), settings.tile_max_age, if_none_match)
    key = ("sensors", tile)
    cached = tile_cache(request).entry(key, etag)
    if cached is None:
        async with pool.acquire() as conn:
            body = await sensors_tile(conn, tile)
        cached = tile_cache(request).put(key, etag, body, compress=True)
    return _tile_response(request, cached, settings.tile_max_age, if_none_match)


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
