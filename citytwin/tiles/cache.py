"""Tile ETags and the server-side tile cache, validated by data versions (never stale)."""

import hashlib
from dataclasses import dataclass

from cachetools import LRUCache

from citytwin.tiles.grid import Tile


def strong_etag(*parts: object) -> str:
    """A strong ETag of `parts`: equal parts give equal tags."""
    return '"' + hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + '"'


def tile_etag(layer: str, tile: Tile, params: tuple, version: tuple[int, int]) -> str:
    """A strong ETag: the same tile, parameters and data version give the same tag."""
    return strong_etag(layer, tile.z, tile.x, tile.y, params, version)


@dataclass(frozen=True)
class CachedTile:
    etag: str
    body: bytes


class TileCache:
    """An LRU of encoded tiles; an entry counts only while its ETag is the current one, so new
    data (a new version under the tile) makes the old entry miss, precisely and lazily."""

    def __init__(self, max_tiles: int) -> None:
        self._tiles: LRUCache[tuple, CachedTile] = LRUCache(maxsize=max_tiles)

    def get(self, key: tuple, etag: str) -> bytes | None:
        """The cached body of `key` if it was cached under `etag`."""
        cached = self._tiles.get(key)
        return cached.body if cached is not None and cached.etag == etag else None

    def put(self, key: tuple, etag: str, body: bytes) -> None:
        if self._tiles.maxsize:
            self._tiles[key] = CachedTile(etag, body)
