"""Readings placed at their sensor's cell, or at their own point and cell (mobile sensors)."""

import numpy as np
import pandas as pd

from citytwin.ingest.validate import Rejection
from citytwin.quality.checks import RANGE
from citytwin.query.cells import cells_for

SAME_PLACE = 1e-7  # degrees (~1 cm): closer than this a reading is at its sensor's point


def reading_quality(rows: pd.DataFrame) -> np.ndarray:
    """Each row's quality code: the quality stage's, if it ran, with validation's flag as RANGE."""
    stage = rows["quality"].to_numpy(np.int16) if "quality" in rows else 0
    return (stage | np.where(rows["flagged"].to_numpy(bool), RANGE, 0)).astype(np.int16)


def place_readings(
    rows: pd.DataFrame, sensors: pd.DataFrame, variables: dict[str, int], resolution: int
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Validated rows as `readings` columns, each with its cell.

    `sensors` (by external id: id, lon, lat, cell) gives fixed readings their sensor's cell; a
    reading taken elsewhere (a mobile sensor) keeps its own point and is indexed on its own.
    Rows of sensors that are unknown and give no location are rejected.
    """
    # Each row's sensor by position (no merge copying every column of the rows).
    at = sensors.index.get_indexer(rows["sensor_id"])
    unknown = at < 0
    rejected = [
        Rejection(int(line), "lon", "unknown sensor and the row has no location")
        for line in rows["line"].to_numpy()[unknown]
    ]
    placed = rows.loc[~unknown]
    at = at[~unknown]
    lon, lat = placed["lon"].to_numpy(float), placed["lat"].to_numpy(float)
    with np.errstate(invalid="ignore"):  # rows without a location: NaN, not moved
        moved = (np.abs(lon - sensors["lon"].to_numpy(float)[at]) > SAME_PLACE) | (
            np.abs(lat - sensors["lat"].to_numpy(float)[at]) > SAME_PLACE
        )
    cell = sensors["cell"].to_numpy(np.int64)[at]
    geom = np.full(len(placed), None, dtype=object)
    if moved.any():
        lon, lat = lon[moved], lat[moved]
        cell[moved] = cells_for(lon, lat, resolution)
        points = zip(lon.tolist(), lat.tolist(), strict=True)
        geom[moved] = [f"SRID=4326;POINT({x!r} {y!r})" for x, y in points]
    quality = reading_quality(placed)
    readings = pd.DataFrame(
        {
            "sensor_id": sensors["id"].to_numpy(np.int32)[at],
            "variable_id": placed["variable"].map(variables).to_numpy(np.int16),
            # Naive UTC datetime64: no per-row Timestamp objects on the way to COPY.
            "time": placed["time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
            "value": placed["value"].to_numpy(),
            "cell": cell,
            # Any fault keeps a reading out of aggregates and models (the exclusion policy).
            "flagged": placed["flagged"].to_numpy() | (quality != 0),
            "quality": quality,
            "geom": pd.array(geom, dtype="string"),
        }
    )
    return readings, rejected
