"""Tile ETags and the server-side tile cache, validated by data versions (never stale)."""

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import LRUCache

from citytwin.query.cells import Bounds
from citytwin.tiles.tile_matrix import Tile
from citytwin.tiles.versions import version_cell_reach

DAY = timedelta(days=1)


def strong_etag(*parts: object) -> str:
    """A strong ETag of `parts`: equal parts give equal tags."""
    return '"' + hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + '"'


def tile_etag(layer: str, tile: Tile, params: tuple, version: tuple[int, int]) -> str:
    """A strong ETag: the same tile, parameters and data version give the same tag."""
    return strong_etag(layer, tile.matrix_set, tile.z, tile.x, tile.y, params, version)


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


# A version key of the store: (variable_id, UTC day, cell at VERSION_RESOLUTION) bumped by a load.
VersionKey = tuple[int, datetime, int]
CHANGES_AT_ONCE = 10_000  # more version keys changed than this since the last look: forget all


@dataclass(frozen=True)
class Footprint:
    """Where and when the data under a remembered version lies: its variable (None: any), its
    lon/lat bounds (None: anywhere) and time range (None ends: open)."""

    variable_id: int | None
    bounds: Bounds | None
    start: datetime | None = None
    end: datetime | None = None

    def touched_by(self, key: VersionKey) -> bool:
        """Whether a change of the version key `key` may change this data."""
        variable_id, day, cell = key
        if self.variable_id is not None and variable_id != self.variable_id:
            return False
        # A version day covers [day, day + 1 day): as the tiles' version query selects them.
        if self.start is not None and day + DAY <= self.start:
            return False
        if self.end is not None and day >= self.end:
            return False
        return self.bounds is None or _overlap(self.bounds, version_cell_reach(cell))


def _overlap(a: Bounds, b: Bounds) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


class VersionCache:
    """Data versions of tiles remembered between loads, so a warm tile needs no database. Each
    is remembered with its footprint; when loads commit (the store's NOTIFY reaches `refresh`),
    only the versions whose variable, place and time range a load touched are forgotten, so a
    trickle of live data leaves the rest of the city warm. It is bypassed while `live()` says
    notifications are not arriving, and from an announcement until its changes are forgotten."""

    def __init__(self, max_entries: int) -> None:
        self._versions: LRUCache[tuple, tuple[tuple, Footprint]] = LRUCache(
            maxsize=max(max_entries, 1)
        )
        self.generation = 0  # counts forgetting rounds: a fetch across one is not remembered
        self.seen: int | None = None  # the highest store version taken into account
        self.live: Callable[[], bool] = lambda: False
        self._refreshing = asyncio.Lock()
        self._announced = 0  # announcements heard whose changes are not forgotten yet

    def trusted(self) -> bool:
        """Whether remembered versions may be used: announcements arrive and none waits."""
        return self.live() and not self._announced

    def announced(self) -> None:
        """A load committed somewhere: trust nothing until `settle` has forgotten its changes
        (so no version a load made stale is served meanwhile)."""
        self._announced += 1
        self.generation += 1

    async def settle(
        self, changes: Callable[[int | None, int], Awaitable[tuple[int, list[VersionKey]]]]
    ) -> None:
        """`refresh` after `announced`."""
        try:
            await self.refresh(changes)
        except Exception:
            self.invalidate()
        finally:
            self._announced -= 1

    def invalidate(self, _event: int | None = None) -> None:
        """New data anywhere (or unknown changes): forget every version."""
        self.generation += 1
        self._versions.clear()

    def forget(self, changed: list[VersionKey]) -> None:
        """Forget the versions whose footprint one of the `changed` version keys touches."""
        self.generation += 1
        stale = [
            key
            for key, (_, footprint) in self._versions.items()
            if any(footprint.touched_by(change) for change in changed)
        ]
        for key in stale:
            del self._versions[key]

    async def refresh(
        self, changes: Callable[[int | None, int], Awaitable[tuple[int, list[VersionKey]]]]
    ) -> None:
        """Forget what the loads committed since the last look changed: `changes(after, limit)`
        gives the store's highest version and the keys above `after` (at most `limit`)."""
        async with self._refreshing:
            newest, changed = await changes(self.seen, CHANGES_AT_ONCE + 1)
            # Unknown start, too much changed, or the store's versions went back (emptied).
            unknown = self.seen is None or newest < self.seen
            if unknown or len(changed) > CHANGES_AT_ONCE:
                self.invalidate()
            elif changed:
                self.forget(changed)
            self.seen = newest

    def holds(self, key: tuple, version: object) -> bool:
        """Whether `version` is the remembered version of `key` while announcements arrive."""
        held = self._versions.get(key) if self.trusted() else None
        return held is not None and held[0] == version

    async def get(
        self, key: tuple, fetch: Callable[[], Awaitable[tuple[tuple, Footprint]]]
    ) -> tuple:
        """The version of `key`, fetched (with its footprint) only when not remembered. A
        version fetched while loads' changes were being forgotten is not remembered: it may
        predate them."""
        if not self.trusted():
            return (await fetch())[0]
        remembered = self._versions.get(key)
        if remembered is not None:
            return remembered[0]
        generation = self.generation
        version, footprint = await fetch()
        if generation == self.generation and self.trusted():
            self._versions[key] = (version, footprint)
        return version
