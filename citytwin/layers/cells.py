"""A layer averaged into H3 cells: grid-cell centres indexed like sensors, then aggregated."""

import numpy as np
import pandas as pd

from citytwin.query.cells import cells_for, parents

STATISTICS = ["count", "mean", "min", "max", "std"]


def grid_cells(
    lon: np.ndarray, lat: np.ndarray, resolution: int, base_resolution: int
) -> np.ndarray:
    """The H3 cell (int64) of each grid-cell centre at `resolution`: indexed at the base
    resolution and taken up to its parent, as sensor readings are, when coarser than the base."""
    index_resolution = max(resolution, base_resolution)
    cells = cells_for(lon.ravel(), lat.ravel(), index_resolution)
    return cells if resolution == index_resolution else parents(cells, resolution)


def cell_statistics(values: np.ndarray, cells: np.ndarray) -> pd.DataFrame:
    """count, mean, min, max and std (n - 1) of `values` (time, y, x) per H3 cell, over every
    time step and grid cell inside it; missing values left out, cells without any dropped."""
    flat = values.reshape(values.shape[0], -1)
    keys = np.broadcast_to(cells, flat.shape).ravel()
    frame = pd.DataFrame({"cell": keys, "value": flat.ravel().astype(np.float64)}).dropna()
    stats = frame.groupby("cell", sort=True)["value"].agg(STATISTICS).reset_index()
    return stats.astype({"count": np.int64})
