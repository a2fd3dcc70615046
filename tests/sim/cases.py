"""A known case: two sensors on cell centres of a small grid in Vaduz's UTM zone."""

from datetime import UTC, datetime

import pandas as pd

from citytwin.core.grid import Grid
from citytwin.sim.nowcast import time_steps

# 10 x 8 cells of 100 m in UTM 32N (Vaduz); sensors A and B sit on cell centres of row 2.
GRID = Grid(32632, 100.0, 537_500.0, 5_226_900.0, nx=10, ny=8)
A, B = (2, 1), (2, 7)
START = datetime(2026, 11, 2, tzinfo=UTC)
TIMES = time_steps(START, datetime(2026, 11, 2, 4, tzinfo=UTC), 3600)
VALUES_A = [10.0, 20.0, 30.0, 40.0]
VALUES_B = [50.0, 60.0, 70.0, 80.0]


def readings(values_a=VALUES_A, values_b=VALUES_B) -> pd.DataFrame:
    lon, lat = GRID.lonlat
    rows = []
    for (row, col), values in ((A, values_a), (B, values_b)):
        for hour, value in enumerate(values):
            if value is not None:
                time = pd.Timestamp(START) + pd.Timedelta(hours=hour)
                rows.append((lon[row, col], lat[row, col], time, value))
    return pd.DataFrame(rows, columns=["lon", "lat", "time", "value"])
