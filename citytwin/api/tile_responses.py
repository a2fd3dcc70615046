"""What every tile route shares: conditional answers on ETags, the tile cache, URL templates."""

from fastapi import Request, Response

from citytwin.tiles.cache import TileCache, VersionCache


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


def data_changed(request: Request) -> None:
    """A write of this instance committed: forget tile versions now, before answering, rather
    than when the store's announcement comes back (so its client's next tile is fresh)."""
    version_cache(request).invalidate()


def tile_url_template(request: Request, route: str, **path: str) -> str:
    """The route's URL with `{z}/{x}/{y}` placeholders left as braces (not percent-encoded)."""
    url = str(request.url_for(route, z="{z}", x="{x}", y="{y}", **path))
    return url.replace("%7B", "{").replace("%7D", "}")
