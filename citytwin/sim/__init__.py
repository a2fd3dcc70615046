"""Simulation on the city grid: the grid itself and the models that fill layers (xarray, Dask)."""
