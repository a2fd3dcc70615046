"""Which tile versions a load touches: (variable, day, coarse cell) of what it wrote."""

import numpy as np
import pandas as pd

from citytwin.aggregate.rollups import Rollups
from citytwin.query.cells import parents

VERSION_RESOLUTION = 5  # ~250 km² per version key: few rows, and still local to a tile pyramid


def version_keys(rollups: Rollups) -> pd.DataFrame:
    """Distinct (variable_id, day, cell at VERSION_RESOLUTION) of `rollups`."""
    keys = pd.DataFrame(
        {
            "variable_id": rollups.variable_id,
            "day": rollups.day,
            "cell": parents(rollups.cell.astype(np.int64), VERSION_RESOLUTION),
        }
    )
    return keys.drop_duplicates(ignore_index=True)
