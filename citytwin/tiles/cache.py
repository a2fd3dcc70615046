"""Tile ETags and the server-side tile cache, validated by data versions (never stale)."""

import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import LRUCache

from citytwin.tiles.grid import Tile


def strong_etag(*parts: object) -> str:
    """A strong ETag of `parts`: equal parts give equal tags."""
    return '"' + hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + '"'


def tile_etag(layer: str, tile: Tile, params: tuple, version: tuple[int, int]) -> str:
    """A strong ETag: the same tile, parameters and data version give the same tag."""
    return strong_etag(layer, tile.z, tile.x, tile.y, params, version)


GZIP_FROM = 1024  # bytes: smaller tiles go as they are (as GZipMiddleware would leave them)


@dataclass(frozen=True)
class CachedTile:
    """A tile as served: its ETag, its body, and the body gzipped once (None if not worth it)."""

    etag: str
    body: bytes
    gzipped: bytes | None = None


class TileCache:
    """An LRU of encoded tiles; an entry counts only while its ETag is the current one, so new
    data (a new version under the tile) makes the old entry miss, precisely and lazily."""

    def __init__(self, max_tiles: int) -> None:
        self._tiles: LRUCache[tuple, CachedTile] = LRUCache(maxsize=max_tiles)

    def get(self, key: tuple, etag: str) -> bytes | None:
        """The cached body of `key` if it was cached under `etag`."""
        cached = self.entry(key, etag)
        return None if cached is None else cached.body

    def entry(self, key: tuple, etag: str) -> CachedTile | None:
        """The cached tile of `key` if it was cached under `etag`."""
        cached = self._tiles.get(key)
        return cached if cached is not None and cached.etag == etag else None

    def put(self, key: tuple, etag: str, body: bytes, compress: bool = False) -> CachedTile:
        """Cache a tile (with its gzipped body when `compress`: vector tiles, not PNGs, which
        are compressed already); the entry as cached."""
        gzipped = None
        if compress and len(body) >= GZIP_FROM:
            gzipped = gzip.compress(body, compresslevel=5, mtime=0)
        cached = CachedTile(etag, body, gzipped)
        if self._tiles.maxsize:
            self._tiles[key] = cached
        return cached


class VersionCache:
    """Data versions of tiles remembered between loads, so a warm tile needs no database: the
    whole cache is dropped whenever a load commits anywhere (the store's NOTIFY reaches
    `invalidate`), and it is bypassed while `live()` says notifications are not arriving."""

    def __init__(self, max_entries: int) -> None:
        self._versions: LRUCache[tuple, tuple[int, int]] = LRUCache(maxsize=max(max_entries, 1))
        self.generation = 0
        self.live: Callable[[], bool] = lambda: False

    def invalidate(self, _event: int | None = None) -> None:
        """New data somewhere: forget every version."""
        self.generation += 1
        self._versions.clear()

    async def get(self, key: tuple, fetch: Callable[[], Awaitable[tuple[int, int]]]) -> tuple:
        """The version of `key`, fetched only when not remembered. A version fetched while a
        load committed is not remembered: it may predate that load."""
        if not self.live():
            return await fetch()
        remembered = self._versions.get(key)
        if remembered is not None:
            return remembered
        generation = self.generation
        version = await fetch()
        if generation == self.generation and self.live():
            self._versions[key] = version
        return version
