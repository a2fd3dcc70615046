"""What every tile route shares: conditional answers on ETags, the tile cache, URL templates."""

from fastapi import Request, Response

from citytwin.tiles.cache import TileCache


def etag_matches(etag: str, if_none_match: str | None) -> bool:
    """Whether an `If-None-Match` header names `etag`."""
    return if_none_match is not None and etag in (t.strip() for t in if_none_match.split(","))


def tile_response(
    body: bytes, media_type: str, etag: str, cache_control: str, if_none_match: str | None
) -> Response:
    """The tile, or a 304 when the client already holds this ETag."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag_matches(etag, if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def tile_cache(request: Request) -> TileCache:
    return request.app.state.tile_cache


def tile_url_template(request: Request, route: str, **path: str) -> str:
    """The route's URL with `{z}/{x}/{y}` placeholders left as braces (not percent-encoded)."""
    url = str(request.url_for(route, z="{z}", x="{x}", y="{y}", **path))
    return url.replace("%7B", "{").replace("%7D", "}")
