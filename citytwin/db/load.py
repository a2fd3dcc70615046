"""Storing validated readings: sensors upserted, readings COPYed, rollups merged, one transaction.

The fast path COPYs (binary, built by numpy) straight into the partitioned table and the rollup
table, each inside a savepoint. Only when a COPY meets keys already stored (a replay, an overlap,
an hour already rolled up) does the batch go through a staging table and `INSERT … ON CONFLICT`,
which is slower but counts each duplicate once and merges rollups exactly.
"""

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from citytwin.db.binary_copy import encode
from citytwin.errors import DatabaseUnavailable
from citytwin.ingest.index import cells_for
from citytwin.ingest.validate import Rejection
from citytwin.query.cells import center

LOAD_LOCK = 7_402_118  # loads are serialised: partition creation and rollup merges stay simple
READING_TYPES = {
    "sensor_id": "int4",
    "variable_id": "int2",
    "time": "timestamptz",
    "value": "float8",
    "cell": "int8",
    "flagged": "bool",
}
READING_COLUMNS = [*READING_TYPES, "geom"]
ROLLUP_TYPES = {
    "variable_id": "int2",
    "bucket": "timestamptz",
    "cell": "int8",
    "count": "int8",
    "sum": "float8",
    "sum_sq": "float8",
    "min": "float8",
    "max": "float8",
}
ROLLUP_COLUMNS = list(ROLLUP_TYPES)
SAME_PLACE = 1e-7  # degrees (~1 cm): closer than this a reading is at its sensor's point

MERGE_ROLLUPS = """
INSERT INTO cell_rollups AS r (variable_id, bucket, cell, count, sum, sum_sq, min, max)
SELECT variable_id, bucket, cell, count, sum, sum_sq, min, max FROM rollup_delta
ON CONFLICT (variable_id, bucket, cell) DO UPDATE SET
    count  = r.count + EXCLUDED.count,
    sum    = r.sum + EXCLUDED.sum,
    sum_sq = r.sum_sq + EXCLUDED.sum_sq,
    min    = least(r.min, EXCLUDED.min),
    max    = greatest(r.max, EXCLUDED.max)
"""

INSERT_NEW_FROM_STAGING = """
WITH inserted AS (
    INSERT INTO readings SELECT * FROM reading_staging
    ON CONFLICT DO NOTHING
    RETURNING variable_id, time, value, cell, flagged
), delta AS (
    INSERT INTO rollup_delta
    SELECT variable_id, date_bin($1::interval, time, 'epoch'), cell,
           count(*), sum(value), sum(value * value), min(value), max(value)
    FROM inserted WHERE NOT flagged
    GROUP BY 1, 2, 3
)
SELECT count(*) FROM inserted
"""


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    duplicates: int
    rejected: list[Rejection]


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        sink,
        pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return sink.getvalue()


async def _upsert_sensors(
    conn: asyncpg.Connection, feed: str, rows: pd.DataFrame, resolution: int
) -> pd.DataFrame:
    """Register the batch's new sensors; return every batch sensor known, by external id."""
    firsts = (
        rows.groupby("sensor_id", sort=False, observed=True)
        .agg(name=("name", "first"), lon=("lon", "first"), lat=("lat", "first"))
        .reset_index()
        .astype({"sensor_id": object, "name": object})
    )
    firsts["name"] = firsts["name"].where(firsts["name"].notna(), None)
    located = firsts.dropna(subset=["lon", "lat"])
    cells = cells_for(located["lon"].to_numpy(), located["lat"].to_numpy(), resolution)
    await conn.execute(
        """INSERT INTO sensors (feed, external_id, name, geom, cell)
           SELECT $1, s.external_id, s.name, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.cell
           FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::int8[])
                AS s (external_id, name, lon, lat, cell)
           ON CONFLICT (feed, external_id) DO UPDATE
           SET name = coalesce(EXCLUDED.name, sensors.name)
           WHERE EXCLUDED.name IS DISTINCT FROM sensors.name AND EXCLUDED.name IS NOT NULL""",
        feed,
        located["sensor_id"].tolist(),
        located["name"].tolist(),
        located["lon"].tolist(),
        located["lat"].tolist(),
        cells.tolist(),
    )
    known = await conn.fetch(
        """SELECT external_id, id, ST_X(geom) AS lon, ST_Y(geom) AS lat, cell FROM sensors
           WHERE feed = $1 AND external_id = ANY($2::text[])""",
        feed,
        firsts["sensor_id"].tolist(),
    )
    return (
        pd.DataFrame([dict(r) for r in known], columns=["external_id", "id", "lon", "lat", "cell"])
        .astype({"id": "Int32", "cell": "Int64"})
        .set_index("external_id")
    )
    # Nullable integer types: a left join must not turn 64-bit cells into lossy floats.


def _reading_frame(
    rows: pd.DataFrame, sensors: pd.DataFrame, variables: dict[str, int], resolution: int
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Rows as `readings` columns; rows of unknown sensors without a location are rejected."""
    placed = rows.merge(
        sensors, left_on="sensor_id", right_index=True, how="left", suffixes=("", "_sensor")
    )
    unknown = placed["id"].isna().to_numpy()
    rejected = [
        Rejection(int(line), "lon", "unknown sensor and the row has no location")
        for line in placed.loc[unknown, "line"]
    ]
    placed = placed.loc[~unknown]
    moved = (
        placed["lon"].notna()
        & (
            ((placed["lon"] - placed["lon_sensor"]).abs() > SAME_PLACE)
            | ((placed["lat"] - placed["lat_sensor"]).abs() > SAME_PLACE)
        )
    ).to_numpy()
    cell = placed["cell"].to_numpy(np.int64).copy()
    geom = np.full(len(placed), None, dtype=object)
    if moved.any():
        lon, lat = placed["lon"].to_numpy()[moved], placed["lat"].to_numpy()[moved]
        cell[moved] = cells_for(lon, lat, resolution)
        points = zip(lon.tolist(), lat.tolist(), strict=True)
        geom[moved] = [f"SRID=4326;POINT({x!r} {y!r})" for x, y in points]
    frame = pd.DataFrame(
        {
            "sensor_id": placed["id"].to_numpy(np.int32),
            "variable_id": placed["variable"].map(variables).to_numpy(np.int16),
            # Naive UTC datetime64: no per-row Timestamp objects on the way to COPY.
            "time": placed["time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
            "value": placed["value"].to_numpy(),
            "cell": cell,
            "flagged": placed["flagged"].to_numpy(),
            "geom": pd.array(geom, dtype="string"),
        }
    )
    return frame, rejected


async def _register_cells(conn: asyncpg.Connection, cells: np.ndarray) -> None:
    centers = [center(int(cell)) for cell in cells]
    await conn.execute(
        """INSERT INTO cells (cell, center)
           SELECT c.cell, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)
           FROM unnest($1::int8[], $2::float8[], $3::float8[]) AS c (cell, lon, lat)
           ON CONFLICT (cell) DO NOTHING""",
        cells.tolist(),
        [lon for lon, _ in centers],
        [lat for _, lat in centers],
    )


def rollup_delta(readings: pd.DataFrame, bucket_seconds: int) -> pd.DataFrame:
    """count/sum/sum of squares/min/max per (variable, bucket, cell) of unflagged readings."""
    kept = readings.loc[~readings["flagged"], ["variable_id", "time", "cell", "value"]]
    kept = kept.assign(
        bucket=kept["time"].dt.floor(f"{bucket_seconds}s"), value_sq=kept["value"] * kept["value"]
    )
    # Sorted by the rollup key, so that a COPY appends to the primary-key index in order.
    grouped = kept.groupby(["variable_id", "bucket", "cell"], sort=True)
    delta = grouped["value"].agg(["count", "sum", "min", "max"])
    delta["sum_sq"] = grouped["value_sq"].sum()
    return delta.reset_index()[ROLLUP_COLUMNS]


async def _copy_binary(
    conn: asyncpg.Connection, table: str, frame: pd.DataFrame, types: dict[str, str]
) -> None:
    payload = encode([(pg_type, frame[name].to_numpy()) for name, pg_type in types.items()])
    await conn.copy_to_table(
        table, source=io.BytesIO(payload), columns=list(types), format="binary"
    )


async def _copy_readings(conn: asyncpg.Connection, table: str, readings: pd.DataFrame) -> None:
    """Readings at their sensor's point go binary; the few with their own point go as CSV."""
    own_point = readings["geom"].notna().to_numpy()
    await _copy_binary(conn, table, readings.loc[~own_point], READING_TYPES)
    if own_point.any():
        await conn.copy_to_table(
            table,
            source=io.BytesIO(_csv_bytes(readings.loc[own_point, READING_COLUMNS])),
            columns=READING_COLUMNS,
            format="csv",
        )


async def _copy_new(conn: asyncpg.Connection, copy: Callable[[], Awaitable[None]]) -> bool:
    """Run a COPY into a keyed table in a savepoint: False (and nothing kept) on a key clash."""
    try:
        async with conn.transaction():
            await copy()
    except asyncpg.UniqueViolationError:
        return False
    return True


async def store_readings(
    conn: asyncpg.Connection,
    feed: str,
    rows: pd.DataFrame,
    variables: dict[str, int],
    resolution: int,
    bucket_seconds: int,
) -> LoadResult:
    """Store validated rows of `feed` all or nothing; report loaded and duplicate counts."""
    try:
        async with conn.transaction():
            return await _store(conn, feed, rows, variables, resolution, bucket_seconds)
    except (
        OSError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.OperatorInterventionError,
    ) as exc:
        raise DatabaseUnavailable(f"the load was rolled back, nothing stored: {exc}") from exc


async def _store(
    conn: asyncpg.Connection,
    feed: str,
    rows: pd.DataFrame,
    variables: dict[str, int],
    resolution: int,
    bucket_seconds: int,
) -> LoadResult:
    if rows.empty:
        return LoadResult(0, 0, [])
    # COPY text without an offset is read in the session zone: make it UTC whatever the role says.
    await conn.execute("SET LOCAL TIME ZONE 'UTC'")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOAD_LOCK)
    sensors = await _upsert_sensors(conn, feed, rows, resolution)
    readings, rejected = _reading_frame(rows, sensors, variables, resolution)
    offered = len(readings)
    readings = readings.drop_duplicates(["sensor_id", "variable_id", "time"])
    # Key order keeps the primary-key index appends local, which makes COPY faster.
    readings = readings.sort_values(["sensor_id", "variable_id", "time"], ignore_index=True)
    if readings.empty:
        return LoadResult(0, offered, rejected)
    await conn.execute(
        "SELECT ensure_readings_partitions($1, $2)",
        readings["time"].min().tz_localize("UTC").to_pydatetime(),
        readings["time"].max().tz_localize("UTC").to_pydatetime(),
    )
    await conn.execute("CREATE TEMP TABLE rollup_delta (LIKE cell_rollups) ON COMMIT DROP")
    if await _copy_new(conn, lambda: _copy_readings(conn, "readings", readings)):
        loaded = len(readings)
        delta = rollup_delta(readings, bucket_seconds)
        if not await _copy_new(
            conn, lambda: _copy_binary(conn, "cell_rollups", delta, ROLLUP_TYPES)
        ):
            await _copy_binary(conn, "rollup_delta", delta, ROLLUP_TYPES)
            await conn.execute(MERGE_ROLLUPS)
    else:
        await conn.execute(
            "CREATE TEMP TABLE reading_staging (LIKE readings INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        await _copy_readings(conn, "reading_staging", readings)
        loaded = await conn.fetchval(INSERT_NEW_FROM_STAGING, pd.Timedelta(seconds=bucket_seconds))
        await conn.execute(MERGE_ROLLUPS)
    await _register_cells(conn, readings["cell"].unique())
    return LoadResult(loaded, offered - loaded, rejected)
