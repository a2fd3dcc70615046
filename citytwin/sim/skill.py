"""Model skill against observations, without I/O: sampling a gridded field at sensors (the
scores of the pairs are `citytwin.core.skill`)."""

import numpy as np
import pandas as pd

from citytwin.core.grid import Grid


def sample_grid(
    values: np.ndarray,
    grid: Grid,
    starts: pd.DatetimeIndex,
    step_seconds: int,
    means: pd.DataFrame,
    offset: np.ndarray | None = None,
) -> pd.DataFrame:
    """As `sample_at_sensors`, for (time, y, x) `values` on `grid` with steps from `starts`
    (naive UTC) of `step_seconds`; `offset` (one value per row of `means`) is added to the
    sampled values (a receptor's own correction of its cell's value)."""
    row, col, inside = grid.index_of(means["lon"].to_numpy(), means["lat"].to_numpy())
    first = starts.as_unit("s").asi8
    times = pd.DatetimeIndex(pd.to_datetime(means["time"], utc=True)).tz_localize(None)
    seconds = times.as_unit("s").asi8
    step = np.searchsorted(first, seconds, "right") - 1
    inside &= (step >= 0) & (seconds < first[-1] + step_seconds)
    rows = pd.DataFrame(
        {
            "sensor": means["sensor"].to_numpy()[inside],
            "time": pd.to_datetime(means["time"], utc=True).to_numpy()[inside],
            "observed": means["value"].to_numpy(dtype=np.float64)[inside],
            "modelled": values[step[inside], row[inside], col[inside]].astype(np.float64)
            + (0.0 if offset is None else offset[inside]),
        }
    )
    return rows.dropna(subset=["observed", "modelled"]).reset_index(drop=True)
