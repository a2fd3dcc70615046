"""Aggregation without I/O: the rollup arithmetic shared by ingest and queries."""
