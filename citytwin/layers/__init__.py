"""Layers: gridded results as CF xarray Datasets, kept immutable in a Zarr store."""
