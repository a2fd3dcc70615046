"""What every tile route shares: conditional answers on ETags, the tile cache, URL templates,
and the vector tiles of cells and sensors that `/tiles` and OGC API - Tiles both serve."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from fastapi import Request, Response
from shapely.geometry import box

from citytwin.api.formats import OutputFormat
from citytwin.api.params import Variable
from citytwin.db.pool import Pool
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.db.queries.tiles import (
    base_tile,
    cells_tile,
    changed_versions,
    data_version,
    newest_day,
    sensors_tile,
    sensors_version,
)
from citytwin.errors import InvalidParameter
from citytwin.query.cells import grow_by_cells, hexagon_wkb, to_hex
from citytwin.query.params import Area, TimeRange, widen_to_buckets
from citytwin.settings import Settings
from citytwin.tiles.cache import CachedTile, Footprint, TileCache, VersionCache, tile_etag
from citytwin.tiles.tile_matrix import WEB_MERCATOR, parse_tile, resolution_for_zoom


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an `If-None-Match` header names `etag`."""
    return if_none_match is not None and etag in (t.strip() for t in if_none_match.split(","))


def tile_response(
    body: bytes,
    media_type: str,
    etag: str,
    cache_control: str,
    if_none_match: str | None,
    gzipped: bytes | None = None,
) -> Response:
    """The tile, or a 304 when the client already holds this ETag; `gzipped` is the body
    compressed once for every client that accepts gzip (so warm tiles cost no compression)."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag_matches(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    if gzipped is not None:
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(gzipped, media_type=media_type, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def accepts_gzip(request: Request) -> bool:
    """Whether the client takes gzip-encoded bodies."""
    return "gzip" in request.headers.get("accept-encoding", "")


def tile_cache(request: Request) -> TileCache:
    return request.app.state.tile_cache


def version_cache(request: Request) -> VersionCache:
    return request.app.state.tile_versions


def version_changes(pool: Pool) -> Callable[[int | None, int], Awaitable[tuple[int, list]]]:
    """What VersionCache.refresh asks: the store's newest version and the keys changed since."""

    async def changes(after: int | None, limit: int) -> tuple[int, list[tuple]]:
        async with pool.acquire() as conn:
            return await changed_versions(conn, after, limit)

    return changes


async def data_changed(request: Request) -> None:
    """A write of this instance committed: forget the tile versions it touched now, before
    answering, rather than when the store's announcement comes back (so its client's next tile
    is fresh)."""
    await version_cache(request).refresh(version_changes(request.app.state.pool))


def _remember_version(request: Request, key: tuple, version: object) -> None:
    # FastTiles replays this answer while every version it was made from stays remembered
    # (citytwin.api.fast_tiles).
    made_from = getattr(request.state, "tile_versions", ())
    request.state.tile_versions = (*made_from, (key, version))


def tile_url_template(request: Request, route: str, **path: str) -> str:
    """The route's URL with `{z}/{x}/{y}` placeholders left as braces (not percent-encoded)."""
    url = str(request.url_for(route, z="{z}", x="{x}", y="{y}", **path))
    return url.replace("%7B", "{").replace("%7D", "}")


MVT = OutputFormat.MVT.media_type


def _mvt_response(
    request: Request, tile: CachedTile, max_age: int, if_none_match: str | None
) -> Response:
    cache_control = f"public, max-age={max_age}, must-revalidate"
    gzipped = tile.gzipped if accepts_gzip(request) else None
    return tile_response(tile.body, MVT, tile.etag, cache_control, if_none_match, gzipped)


async def _recent_window(request: Request, pool: Pool, variable_id: int, days: int) -> TimeRange:
    """The last `days` UTC days up to the newest day with data of the variable (remembered
    like a tile version: forgotten when a load brings data of the variable)."""

    async def fetch() -> tuple[datetime | None, Footprint]:
        async with pool.acquire() as conn:
            return await newest_day(conn, variable_id), Footprint(variable_id, None)

    key = ("newest day", variable_id)
    newest = await version_cache(request).get(key, fetch)
    _remember_version(request, key, newest)
    if newest is None:
        return TimeRange(None, None)
    end = newest + timedelta(days=1)
    return TimeRange(end - timedelta(days=days), end)


async def cells_tile_answer(
    request: Request,
    pool: Pool,
    settings: Settings,
    variable: Variable,
    time: TimeRange,
    z: int,
    x: int,
    y: int,
    resolution: int | None,
    if_none_match: str | None,
    matrix_set: str = WEB_MERCATOR,
) -> Response:
    """Hexagons with `h3`, `count`, `mean`, `min`, `max` of `variable` over `start`/`end`."""
    tile = parse_tile(z, x, y, matrix_set)
    base = settings.ingest.h3_resolution
    shown = resolution_for_zoom(z, base) if resolution is None else resolution
    if shown > base:
        raise InvalidParameter("resolution", f"must be at most the base resolution {base}")
    if time.start is None and time.end is None:
        time = await _recent_window(request, pool, variable.id, settings.api.tile_default_days)
    time = widen_to_buckets(time, settings.database.rollup_bucket_seconds)
    # Hexagons centred outside the tile may still reach into it: search a grown area.
    bounds = grow_by_cells(tile.bounds, shown)

    async def fetch_version() -> tuple[tuple, Footprint]:
        async with pool.acquire() as conn:
            version = await data_version(conn, bounds, variable.id, time.start, time.end)
        return version, Footprint(variable.id, bounds, time.start, time.end)

    params = (variable.name, shown, time.start, time.end)
    version_key = ("cells", bounds, params)
    version = await version_cache(request).get(version_key, fetch_version)
    _remember_version(request, version_key, version)
    etag = tile_etag("cells", tile, params, version)
    if etag_matches(etag, if_none_match):
        return _mvt_response(
            request, CachedTile(etag, b""), settings.api.tile_max_age, if_none_match
        )
    key = ("cells", tile, params)
    cached = tile_cache(request).entry(key, etag)
    if cached is None:
        query = CellQuery(variable.id, shown, Area(geometry=box(*bounds)), time)
        async with pool.acquire() as conn:
            rows = await cell_aggregates(conn, query, base, settings.database.rollup_bucket_seconds)
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
    return _mvt_response(request, cached, settings.api.tile_max_age, if_none_match)


async def sensors_tile_answer(
    request: Request,
    pool: Pool,
    settings: Settings,
    z: int,
    x: int,
    y: int,
    if_none_match: str | None,
    matrix_set: str = WEB_MERCATOR,
) -> Response:
    """Sensor points with `id`, `feed`, `external_id`, `name` and, per variable, the latest
    value and its time (`<variable>`, `<variable>_time`)."""
    tile = parse_tile(z, x, y, matrix_set)

    async def fetch_version() -> tuple[tuple, Footprint]:
        async with pool.acquire() as conn:
            version, mobile = await sensors_version(conn, tile)
        # Sensors drawn lie in the tile's envelope grown by 5 % (DRAWN_SENSORS).
        west, south, east, north = tile.bounds
        dx, dy = (east - west) * 0.05, (north - south) * 0.05
        drawn = (west - dx, south - dy, east + dx, north + dy)
        return version, Footprint(None, None if mobile else drawn)

    version = await version_cache(request).get(("sensors", tile), fetch_version)
    _remember_version(request, ("sensors", tile), version)
    etag = tile_etag("sensors", tile, (), version)
    if etag_matches(etag, if_none_match):
        return _mvt_response(
            request, CachedTile(etag, b""), settings.api.tile_max_age, if_none_match
        )
    key = ("sensors", tile)
    cached = tile_cache(request).entry(key, etag)
    if cached is None:
        async with pool.acquire() as conn:
            body = await sensors_tile(conn, tile)
        cached = tile_cache(request).put(key, etag, body, compress=True)
    return _mvt_response(request, cached, settings.api.tile_max_age, if_none_match)


async def base_tile_answer(
    request: Request,
    pool: Pool,
    settings: Settings,
    layer: str,
    z: int,
    x: int,
    y: int,
    matrix_set: str = WEB_MERCATOR,
) -> Response:
    """A tile of the city's base `layer`; it changes only when the city is imported again."""
    tile = parse_tile(z, x, y, matrix_set)
    async with pool.acquire() as conn:
        body = await base_tile(conn, layer, tile)
    cache_control = f"public, max-age={settings.api.tile_max_age}"
    return Response(body or b"", media_type=MVT, headers={"Cache-Control": cache_control})
