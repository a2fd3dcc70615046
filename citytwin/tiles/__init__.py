"""Tiles: which H3 resolution a zoom shows, tile bounds and versions; no I/O."""
