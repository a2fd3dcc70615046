"""The tile cache: bodies by ETag, and vector tiles gzipped once when worth it."""

import gzip

from citytwin.tiles.cache import GZIP_FROM, TileCache


def test_entries_count_only_under_their_etag_and_big_tiles_are_gzipped_once():
    cache = TileCache(4)
    big = cache.put(("a",), '"1"', b"hexagons " * 200, compress=True)
    assert gzip.decompress(big.gzipped) == b"hexagons " * 200
    assert cache.entry(("a",), '"1"') is big and cache.entry(("a",), '"2"') is None
    small = cache.put(("b",), '"1"', b"x" * (GZIP_FROM - 1), compress=True)
    assert small.gzipped is None  # not worth a header
    png = cache.put(("c",), '"1"', b"\x89PNG" * 500)
    assert png.gzipped is None  # compressed already
    assert cache.get(("c",), '"1"') == b"\x89PNG" * 500
