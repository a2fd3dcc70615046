"""Which tile versions a load touches: (variable, day, coarse cell) of what it wrote."""

from functools import lru_cache

import numpy as np
import pandas as pd

from citytwin.query.cells import Bounds, boundary, center, parents

VERSION_RESOLUTION = 5  # ~250 km² per version key: few rows, and still local to a tile pyramid
# Descendants' centres lie within 1.16 times their ancestor's centre-to-vertex offsets
# (citytwin.query.cells): a margin over that bounds where a version cell's data can be.
DESCENDANT_REACH = 1.2


def version_keys(rollups: pd.DataFrame) -> pd.DataFrame:
    """Distinct (variable_id, day, cell at VERSION_RESOLUTION) of rollup rows, sorted."""
    columns = [
        rollups["variable_id"].to_numpy().astype(np.int16),
        rollups["day"].to_numpy().astype("datetime64[us]"),
        parents(rollups["cell"].to_numpy().astype(np.int64), VERSION_RESOLUTION),
    ]
    order = np.lexsort(columns[::-1])  # the last key given is the first sorted on
    columns = [values[order] for values in columns]
    first = np.ones(len(order), bool)
    for values in columns:
        first[1:] &= values[1:] == values[:-1]
    first[1:] = ~first[1:]  # a row differing from the one before in any column
    names = ["variable_id", "day", "cell"]
    return pd.DataFrame({name: values[first] for name, values in zip(names, columns, strict=True)})


@lru_cache(maxsize=4096)
def version_cell_reach(cell: int) -> Bounds:
    """Lon/lat bounds holding the centre of every base cell under version cell `cell`:
    descendants' centres stray a little outside their ancestor's hexagon."""
    lon, lat = center(cell)
    ring = boundary(cell)
    dx = max(abs((x - lon + 180) % 360 - 180) for x, _ in ring) * DESCENDANT_REACH
    dy = max(abs(y - lat) for _, y in ring) * DESCENDANT_REACH
    return (lon - dx, lat - dy, lon + dx, lat + dy)
