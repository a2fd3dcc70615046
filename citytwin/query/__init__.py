"""What a query asks, parsed and checked without I/O: areas, time ranges, buckets, H3 cells."""
