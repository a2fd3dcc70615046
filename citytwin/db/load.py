"""Storing validated readings, all or nothing: sensors upserted, readings COPYed, rollups
appended, sensor hours added, latest state kept.

A load takes a source in pieces, inside one transaction, so that parsing the next piece overlaps
the server's COPY of this one. Each piece's readings are COPYed (binary) straight into the
partitioned table inside a savepoint; only when that meets keys already stored (a replay, an
overlap, a duplicate across pieces) does the piece go through a staging table and
`INSERT … ON CONFLICT DO NOTHING`, which counts each duplicate once and skips it. The pieces'
per-slot rollups are combined and written once at the end: as day rows when no rollups of those
days exist yet (a load of history), else appended as narrow per-slot deltas that a compaction
folds in later (citytwin.db.compaction), so a live load costs what it carries; their sensor
hours go the same way (citytwin.db.sensor_hours), and the pieces' per-series summaries into
`latest_readings` (citytwin.db.latest).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

import asyncpg
import numpy as np
import pandas as pd
import pyarrow as pa

from citytwin.aggregate.rollups import days_from_slots, merge_slot_stats, slot_stats
from citytwin.aggregate.sensor_hours import merge_sensor_hours, sensor_hour_stats
from citytwin.db.copy import (
    copy_if_new,
    copy_out_frame,
    copy_readings,
    copy_rollups,
    copy_slot_stats,
)
from citytwin.db.latest import update_latest
from citytwin.db.locks import FEED_LOCK, LOAD_LOCK, PARTITION_LOCK, PUBLISH_LOCK
from citytwin.db.rollup_months import forget_months
from citytwin.db.sensor_hours import add_sensor_hours
from citytwin.errors import DatabaseUnavailable
from citytwin.ingest.index import place_readings
from citytwin.ingest.read import PROPERTY
from citytwin.ingest.validate import Rejection
from citytwin.query.cells import cells_for, center
from citytwin.tiles.versions import version_keys
from citytwin.twin import latest

READING_KEY = ["sensor_id", "variable_id", "time"]
KNOWN_COLUMNS = ["external_id", "id", "lon", "lat", "cell", "mobile"]

# Whether any day row of these variables exists in the load's days: if not, the load's rollups
# are new day rows (COPYed as such), else they go to the deltas.
DAYS_ROLLED_UP = """
SELECT EXISTS (
    SELECT 1 FROM cell_rollups
    WHERE variable_id = ANY($1::int2[]) AND day >= $2 AND day <= $3)
"""

# The rows that were new come back (as CSV) so that their rollups are computed like the rest.
INSERTED_SCHEMA = pa.schema(
    {
        "sensor_id": pa.int32(),
        "variable_id": pa.int16(),
        "time": pa.timestamp("us"),
        "value": pa.float64(),
        "cell": pa.int64(),
        "flagged": pa.int8(),
        "quality": pa.int16(),
    }
)
INSERT_NEW_FROM_STAGING = """
INSERT INTO readings SELECT * FROM reading_staging
ON CONFLICT DO NOTHING
RETURNING sensor_id, variable_id, time AT TIME ZONE 'UTC' AS time, value, cell,
          flagged::int AS flagged, quality
"""

# Months (of the given ones) whose partition is gone while rollups of a variable remain: only
# retention drops partitions, and rollups exist only where readings were once stored.
DROPPED_MONTHS = """
SELECT m.month, v.id AS variable_id
FROM unnest($1::timestamptz[]) AS m (month) CROSS JOIN unnest($2::int2[]) AS v (id)
WHERE to_regclass(format('readings_%s', to_char(m.month AT TIME ZONE 'UTC', 'YYYY_MM'))) IS NULL
  AND (EXISTS (
    SELECT 1 FROM cell_rollups r
    WHERE r.variable_id = v.id
      AND r.day >= m.month AND r.day < m.month + interval '1 month'
  ) OR EXISTS (
    SELECT 1 FROM cell_rollup_deltas r
    WHERE r.variable_id = v.id
      AND r.day >= m.month AND r.day < m.month + interval '1 month'
  ))
"""

CONNECTION_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,  # lost, refused, failed (08xxx)
    asyncpg.exceptions.OperatorInterventionError,
)


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    duplicates: int
    rejected: list[Rejection]


def _sensor_properties(firsts: pd.DataFrame) -> list[dict]:
    """Each sensor's free properties: its `property:*` columns that have a value."""
    columns = [c for c in firsts.columns if c.startswith(PROPERTY)]
    if not columns:
        return [{} for _ in range(len(firsts))]
    values = firsts[columns].astype(object).where(firsts[columns].notna(), None)
    return [
        {
            name.removeprefix(PROPERTY): value
            for name, value in zip(columns, row, strict=True)
            if value is not None
        }
        for row in values.itertuples(index=False)
    ]


async def _upsert_sensors(
    conn: asyncpg.Connection, feed: str, rows: pd.DataFrame, resolution: int
) -> pd.DataFrame:
    """Register the batch's new sensors (and new names or properties of known ones); return
    every batch sensor known, by external id."""
    described = ["name", "lon", "lat", *(c for c in rows.columns if c.startswith(PROPERTY))]
    firsts = (
        rows.groupby("sensor_id", sort=False, observed=True)[described]
        .first()
        .reset_index()
        .astype({"sensor_id": object, "name": object})
    )
    firsts["name"] = firsts["name"].where(firsts["name"].notna(), None)
    located = firsts.dropna(subset=["lon", "lat"])
    cells = cells_for(located["lon"].to_numpy(), located["lat"].to_numpy(), resolution)
    await conn.execute(
        """INSERT INTO sensors (feed, external_id, name, geom, cell, properties)
           SELECT $1, s.external_id, s.name, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.cell,
                  s.properties
           FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::int8[],
                       $7::jsonb[]) AS s (external_id, name, lon, lat, cell, properties)
           ON CONFLICT (feed, external_id) DO UPDATE
           SET name = coalesce(EXCLUDED.name, sensors.name),
               properties = sensors.properties || EXCLUDED.properties
           WHERE (EXCLUDED.name IS NOT NULL AND EXCLUDED.name IS DISTINCT FROM sensors.name)
              OR NOT sensors.properties @> EXCLUDED.properties""",
        feed,
        located["sensor_id"].tolist(),
        located["name"].tolist(),
        located["lon"].tolist(),
        located["lat"].tolist(),
        cells.tolist(),
        _sensor_properties(located),
    )
    return await _known_sensors(conn, feed, firsts["sensor_id"].tolist())


async def _known_sensors(conn: asyncpg.Connection, feed: str, external_ids: list) -> pd.DataFrame:
    """The registered sensors of `feed` among `external_ids`, by external id: one row of
    column arrays, no Python object per sensor and field."""
    known = await conn.fetchrow(
        """SELECT coalesce(array_agg(external_id), '{}') AS external_id,
                  coalesce(array_agg(id), '{}') AS id,
                  coalesce(array_agg(ST_X(geom)), '{}') AS lon,
                  coalesce(array_agg(ST_Y(geom)), '{}') AS lat,
                  coalesce(array_agg(cell), '{}') AS cell,
                  coalesce(array_agg(mobile), '{}') AS mobile
           FROM sensors WHERE feed = $1 AND external_id = ANY($2::text[])""",
        feed,
        external_ids,
    )
    # Nullable integer types: a left join must not turn 64-bit cells into lossy floats.
    return (
        pd.DataFrame({name: known[name] for name in KNOWN_COLUMNS})
        .astype({"id": "Int32", "lon": float, "lat": float, "cell": "Int64", "mobile": bool})
        .set_index("external_id")
    )


def _describes_sensors(rows: pd.DataFrame) -> bool:
    """Whether rows carry sensor names or properties (which may update registered sensors)."""
    if rows["name"].notna().any():
        return True
    return any(column.startswith(PROPERTY) for column in rows.columns)


async def register_sensors(
    conn: asyncpg.Connection, feed: str, stations: pd.DataFrame, resolution: int
) -> None:
    """Register a station list's stations, or update the names and properties of known ones."""
    if not stations.empty:
        await _upsert_sensors(conn, feed, stations, resolution)


async def _register_cells(conn: asyncpg.Connection, cells: np.ndarray) -> None:
    """Register the cells not registered yet (a live load usually has none: no centres to
    compute, no rows to write)."""
    new = await conn.fetchval(
        """SELECT coalesce(array_agg(c.cell), '{}') FROM unnest($1::int8[]) AS c (cell)
           WHERE NOT EXISTS (SELECT 1 FROM cells WHERE cells.cell = c.cell)""",
        cells.tolist(),
    )
    if not new:
        return
    centers = [center(int(cell)) for cell in new]
    await conn.execute(
        """INSERT INTO cells (cell, center)
           SELECT c.cell, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)
           FROM unnest($1::int8[], $2::float8[], $3::float8[]) AS c (cell, lon, lat)
           ON CONFLICT (cell) DO NOTHING""",
        new,
        [lon for lon, _ in centers],
        [lat for _, lat in centers],
    )


async def _bump_tile_versions(conn: asyncpg.Connection, keys: pd.DataFrame) -> None:
    await conn.execute(
        """INSERT INTO tile_versions (variable_id, day, cell, version)
           SELECT k.variable_id, k.day, k.cell, nextval('tile_version_seq')
           FROM unnest($1::int2[], $2::timestamp[], $3::int8[]) AS k (variable_id, day, cell)
           ON CONFLICT (variable_id, day, cell) DO UPDATE SET version = EXCLUDED.version""",
        keys["variable_id"].tolist(),
        keys["day"].dt.to_pydatetime().tolist(),
        keys["cell"].tolist(),
    )


async def _ensure_partition(conn: asyncpg.Connection, month: datetime) -> None:
    """The month's partition of `readings`, created under PARTITION_LOCK if missing (two loads
    creating it together would clash)."""
    name = f"readings_{month:%Y_%m}"
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
        return
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK)
    await conn.execute("SELECT ensure_readings_partitions($1, $1)", month)


def month_starts(times: pd.Series) -> list[datetime]:
    """The first instant (UTC) of each month `times` fall in."""
    utc = times.dt.tz_convert("UTC") if times.dt.tz is not None else times.dt.tz_localize("UTC")
    months = utc.dt.tz_localize(None).dt.to_period("M").unique()
    return [month.start_time.tz_localize("UTC").to_pydatetime() for month in sorted(months)]


async def _without_dropped_months(
    conn: asyncpg.Connection, rows: pd.DataFrame, variables: dict[str, int]
) -> tuple[pd.DataFrame, list[Rejection]]:
    """`rows` less those of a month whose readings retention dropped while the month's cell
    rollups of their variable are kept: stored again, they would count twice in the rollups."""
    starts = month_starts(rows["time"])
    ids = sorted({variables[v] for v in rows["variable"].unique() if v in variables})
    dropped = await conn.fetch(DROPPED_MONTHS, starts, ids)
    if not dropped:
        return rows, []
    names = {number: name for name, number in variables.items()}
    gone = {(row["month"].strftime("%Y-%m"), names[row["variable_id"]]) for row in dropped}
    month = rows["time"].dt.strftime("%Y-%m")
    hit = pd.Series(list(zip(month, rows["variable"].astype(str), strict=True))).isin(gone)
    hit = hit.to_numpy()
    rejected = [
        Rejection(
            int(line),
            "time",
            f"the {variable} readings of {when} were dropped by retention while their cell "
            "rollups are kept: stored again they would be counted twice",
        )
        for line, when, variable in zip(
            rows["line"][hit], month[hit], rows["variable"][hit], strict=True
        )
    ]
    return rows[~hit].reset_index(drop=True), rejected


@dataclass(frozen=True)
class PreparedPiece:
    """A piece's readings placed, deduplicated and in key order, with their rollups and their
    per-series latest state."""

    readings: pd.DataFrame
    rejected: list[Rejection]
    offered: int
    delta: pd.DataFrame | None  # per-slot rollups (citytwin.aggregate.rollups.slot_stats)
    latest: pd.DataFrame | None = None
    hours: pd.DataFrame | None = None  # sensor hours (citytwin.aggregate.sensor_hours)


@dataclass
class ReadingLoad:
    """One load in progress: `prepare` and `store` pieces of validated rows, then `finish`.

    `prepare` may run while the previous piece is being stored: it needs the connection only
    to register sensors this load has not seen yet (the lock orders it after that COPY).
    """

    conn: asyncpg.Connection
    feed: str
    variables: dict[str, int]
    resolution: int
    bucket_seconds: int
    loaded: int = 0
    offered: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    deltas: list[pd.DataFrame] = field(default_factory=list)
    hours: list[pd.DataFrame] = field(default_factory=list)  # sensor hours of what was new
    cells: set[int] = field(default_factory=set)
    summaries: list[pd.DataFrame] = field(default_factory=list)  # per series, of what was new
    homes: list[pd.DataFrame] = field(default_factory=list)  # registered keys of mobile rows
    moved: set[int] = field(default_factory=set)  # sensors with readings away from their point
    staging: bool = False
    known: pd.DataFrame | None = None  # the sensors registered so far, by external id
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _needs_registering(self, rows: pd.DataFrame) -> bool:
        if self.known is None or _describes_sensors(rows):
            return True
        return not rows["sensor_id"].isin(self.known.index).all()

    async def prepare(self, rows: pd.DataFrame) -> PreparedPiece:
        """Register the piece's new sensors, then place and order its readings and compute
        their rollups in a worker thread."""
        if rows.empty:
            return PreparedPiece(pd.DataFrame(), [], 0, None)
        async with self.lock:
            rows, dropped = await _without_dropped_months(self.conn, rows, self.variables)
        if rows.empty:
            return PreparedPiece(pd.DataFrame(), dropped, 0, None)
        if self.known is None and not _describes_sensors(rows):
            # Rows naming only sensors (a live load): those registered are looked up, and only
            # the others upserted, instead of an upsert of every sensor of the batch.
            async with self.lock:
                ids = rows["sensor_id"].astype(str).unique().tolist()
                self.known = await _known_sensors(self.conn, self.feed, ids)
        sensors = self.known
        if self._needs_registering(rows):
            async with self.lock:
                sensors = await _upsert_sensors(self.conn, self.feed, rows, self.resolution)
            known = sensors if self.known is None else pd.concat([self.known, sensors])
            self.known = known[~known.index.duplicated(keep="last")]
        piece = await asyncio.to_thread(self._place, rows, sensors)
        return replace(piece, rejected=dropped + piece.rejected) if dropped else piece

    def _place(self, rows: pd.DataFrame, sensors: pd.DataFrame) -> PreparedPiece:
        readings, rejected = place_readings(rows, sensors, self.variables, self.resolution)
        # Key order keeps the primary-key index appends local, which makes COPY faster.
        ordered = readings.drop_duplicates(READING_KEY).sort_values(READING_KEY, ignore_index=True)
        delta = slot_stats(ordered, self.bucket_seconds)
        summary = latest.summarise(ordered)
        return PreparedPiece(
            ordered, rejected, len(readings), delta, summary, sensor_hour_stats(ordered)
        )

    async def store(self, piece: PreparedPiece) -> None:
        """COPY a prepared piece (new rows only, if some are stored already)."""
        self.rejected += piece.rejected
        self.offered += piece.offered
        readings = piece.readings
        if readings.empty:
            return
        async with self.lock:
            # Only the months that have rows: one far-off reading makes one partition, not
            # every month in between.
            for month in month_starts(readings["time"]):
                await _ensure_partition(self.conn, month)
            # A sensor with a reading away from its registered point is mobile: sensor tiles
            # drawing it then follow every version (its latest value may come from anywhere),
            # and the versions of its registered place change too (tile caches forget by place).
            away = readings.loc[readings["geom"].notna(), ["sensor_id", "variable_id", "time"]]
            if len(away):
                registered = await self.conn.fetch(
                    "WITH marked AS (UPDATE sensors SET mobile = true "
                    "WHERE id = ANY($1::int[]) AND NOT mobile) "
                    "SELECT id, cell FROM sensors WHERE id = ANY($1::int[])",
                    away["sensor_id"].unique().tolist(),
                )
                home = away.assign(
                    day=away["time"].dt.floor("D"), cell=away["sensor_id"].map(dict(registered))
                )
                self.homes.append(home[["variable_id", "day", "cell"]])
                self.moved.update(row["id"] for row in registered)
            if await copy_if_new(self.conn, lambda: copy_readings(self.conn, "readings", readings)):
                self.loaded += len(readings)
                self.deltas.append(piece.delta)
                self.summaries.append(piece.latest)
                self.hours.append(piece.hours)
            else:
                inserted = await self._insert_new(readings)
                self.loaded += len(inserted)
                delta = await asyncio.to_thread(slot_stats, inserted, self.bucket_seconds)
                self.deltas.append(delta)
                self.hours.append(await asyncio.to_thread(sensor_hour_stats, inserted))
                summary = await asyncio.to_thread(
                    lambda: latest.summarise(inserted.sort_values(READING_KEY, ignore_index=True))
                )
                self.summaries.append(summary)
        self.cells.update(readings["cell"].unique().tolist())

    def _mobile(self) -> np.ndarray:
        """Ids of this load's mobile sensors: registered as such, or moved in it."""
        known = self.known
        registered = known["id"][known["mobile"]] if known is not None else []
        return np.array(sorted(self.moved.union(int(i) for i in registered)), dtype=np.int32)

    async def _insert_new(self, readings: pd.DataFrame) -> pd.DataFrame:
        """Insert the readings not stored yet (through a staging table); return those."""
        if self.staging:
            await self.conn.execute("TRUNCATE reading_staging")
        else:
            await self.conn.execute(
                "CREATE TEMP TABLE reading_staging (LIKE readings INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
            self.staging = True
        await copy_readings(self.conn, "reading_staging", readings)
        inserted = await copy_out_frame(self.conn, INSERT_NEW_FROM_STAGING, schema=INSERTED_SCHEMA)
        return inserted.astype({"flagged": bool})

    async def _write_rollups(self, stats: pd.DataFrame) -> bool:
        """New days as day rows; days with rollups already get their slots appended. Whether
        the days were new (no rollups of them yet)."""
        conn = self.conn
        days = stats["day"].to_numpy()
        new_days = not await conn.fetchval(
            DAYS_ROLLED_UP,
            sorted(set(stats["variable_id"].tolist())),
            pd.Timestamp(days.min()).tz_localize("UTC").to_pydatetime(),
            pd.Timestamp(days.max()).tz_localize("UTC").to_pydatetime(),
        )
        if new_days:
            rows = await asyncio.to_thread(days_from_slots, stats, self.bucket_seconds)
            if await copy_if_new(conn, lambda: copy_rollups(conn, "cell_rollups", rows)):
                return True
        # A day row made meanwhile (a compaction, another load) sends these to the deltas too.
        await copy_slot_stats(conn, "cell_rollup_deltas", stats)
        return new_days

    async def finish(self) -> LoadResult:
        """Write the rollups of everything loaded and register its cells."""
        conn = self.conn
        touched = None
        new_days = False
        if self.deltas:
            stats = await asyncio.to_thread(merge_slot_stats, self.deltas)
            if not stats.empty:
                new_days = await self._write_rollups(stats)
                await forget_months(conn, stats)
            touched = pd.concat([stats[["variable_id", "day", "cell"]], *self.homes])
        if self.hours:
            hours = await asyncio.to_thread(merge_sensor_hours, self.hours)
            # Sensor hours go where the rollups went: a load of new days COPYs them in place.
            await add_sensor_hours(conn, hours, new_days)
        await _register_cells(conn, np.array(sorted(self.cells), dtype=np.int64))
        summary = await asyncio.to_thread(latest.combine, self.summaries)
        await conn.execute("SELECT pg_advisory_xact_lock($1)", PUBLISH_LOCK)
        if touched is not None and not touched.empty:
            await _bump_tile_versions(conn, version_keys(touched))
        await update_latest(conn, summary, self._mobile())
        return LoadResult(self.loaded, self.offered - self.loaded, self.rejected)


@asynccontextmanager
async def reading_load(
    conn: asyncpg.Connection,
    feed: str,
    variables: dict[str, int],
    resolution: int,
    bucket_seconds: int,
) -> AsyncIterator[ReadingLoad]:
    """A load in one transaction: it commits whole, or a failure leaves nothing stored."""
    try:
        async with conn.transaction():
            # One round trip: COPY text without an offset is read in the session zone, made
            # UTC; then the locks, in this order (the select list is evaluated left to right).
            await conn.execute(
                "SELECT set_config('TimeZone', 'UTC', true), pg_advisory_xact_lock_shared($1), "
                "pg_advisory_xact_lock($2, hashtext($3))",
                LOAD_LOCK,
                FEED_LOCK,
                feed,
            )
            yield ReadingLoad(conn, feed, variables, resolution, bucket_seconds)
    except CONNECTION_LOST as exc:
        raise DatabaseUnavailable(f"the load was rolled back, nothing stored: {exc}") from exc
