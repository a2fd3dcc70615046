"""Ingest benchmark: the package's CSV ingest against a raw asyncpg COPY of the same rows."""

import argparse
import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import numpy as np
from common import VARIABLES, canonical_csv, empty_store, place_sensors
from rich.console import Console
from rich.table import Table

from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.feeds import FeedDefinition, load_feeds
from citytwin.services.ingest import IngestReport, ingest
from citytwin.settings import Settings

SENSORS = 250
BOUNDS = (9.50, 47.12, 9.54, 47.16)  # Vaduz
START = np.datetime64("2026-01-01T00:00:00")
READING_COLUMNS = ["sensor_id", "variable_id", "time", "value", "cell", "flagged", "geom"]
ROUNDS = 2

console = Console()


def make_csv(rows: int, seed: int = 20260101) -> bytes:
    """Canonical `air` CSV of `rows` readings: 250 fixed sensors, 4 variables, hourly, UTC."""
    rng = np.random.default_rng(seed)
    sensors = place_sensors(SENSORS, BOUNDS, rng)
    hours = -(-rows // (SENSORS * len(VARIABLES)))
    stamps = START + np.arange(hours) * np.timedelta64(1, "h")
    return canonical_csv(sensors, stamps, rng, rows)


async def run_ours(
    conn: asyncpg.Connection, feed: FeedDefinition, data: bytes, settings: Settings
) -> tuple[float, IngestReport]:
    """Seconds taken by the package's ingest of `data`, and its report."""
    began = time.perf_counter()
    report = await ingest(
        conn,
        feed,
        data,
        encoding="csv",
        resolution=settings.h3_resolution,
        bucket_seconds=settings.rollup_bucket_seconds,
    )
    return time.perf_counter() - began, report


async def run_raw(
    conn: asyncpg.Connection, records: list[tuple], span: tuple[datetime, datetime]
) -> float:
    """Seconds taken by one binary COPY of `records` into `readings` (partitions made first)."""
    await conn.execute("SELECT ensure_readings_partitions($1, $2)", *span)
    began = time.perf_counter()
    await conn.copy_records_to_table("readings", records=records, columns=READING_COLUMNS)
    return time.perf_counter() - began


async def snapshot(conn: asyncpg.Connection) -> tuple[list[tuple], tuple[datetime, datetime]]:
    """The stored readings as COPY-ready tuples in key order, and their time span."""
    rows = await conn.fetch(
        f"SELECT {', '.join(READING_COLUMNS)} FROM readings ORDER BY sensor_id, variable_id, time"
    )
    span = await conn.fetchrow("SELECT min(time), max(time) FROM readings")
    return [tuple(row) for row in rows], (span[0], span[1])


@dataclass
class Timing:
    """One timed load."""

    kind: str
    round: int
    seconds: float
    rows: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


async def bench(rows: int) -> None:
    """Alternate ours and raw COPY `ROUNDS` times on an emptied store, then replay once."""
    settings = Settings(pg_database="citytwin_bench")
    url = await prepare_store(settings)
    feed = load_feeds(settings.feeds_dir)["air"]
    began = time.perf_counter()
    data = make_csv(rows)
    console.print(
        f"generated {rows:,} rows, {len(data) / 1e6:.1f} MB of CSV "
        f"in {time.perf_counter() - began:.2f} s"
    )
    conn = await connect(url)
    # Geometry has no binary codec in asyncpg; `geom` is all NULL here, so pass bytes through.
    await conn.set_type_codec(
        "geometry", encoder=bytes, decoder=bytes, schema="public", format="binary"
    )
    timings: list[Timing] = []
    records: list[tuple] = []
    try:
        for round_ in range(1, ROUNDS + 1):
            await empty_store(conn)
            seconds, report = await run_ours(conn, feed, data, settings)
            if report.loaded != rows or report.rejected:
                raise SystemExit(f"ours loaded {report.loaded:,} of {rows:,}: {report.as_dict()}")
            timings.append(Timing("ours", round_, seconds, rows))
            if not records:
                records, span = await snapshot(conn)
            if round_ == ROUNDS:
                replay_seconds, replay = await run_ours(conn, feed, data, settings)
                if replay.duplicates != rows or replay.loaded != 0:
                    raise SystemExit(f"replay: {replay.as_dict()}")
            await empty_store(conn)
            seconds = await run_raw(conn, records, span)
            stored = await conn.fetchval("SELECT count(*) FROM readings")
            if stored != rows:
                raise SystemExit(f"raw COPY stored {stored:,} of {rows:,}")
            timings.append(Timing("raw COPY", round_, seconds, rows))
        await empty_store(conn)
    finally:
        await conn.close()
    report_table(timings, replay_seconds, rows)


def report_table(timings: list[Timing], replay_seconds: float, rows: int) -> None:
    """Print every run, the replay, and the best-of summary line."""
    table = Table(title=f"ingest of {rows:,} readings (best of {ROUNDS} marked *)")
    for column in ("run", "round", "seconds", "rows/s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    best = {
        kind: min((t for t in timings if t.kind == kind), key=lambda t: t.seconds)
        for kind in ("ours", "raw COPY")
    }
    for t in timings:
        mark = "*" if best[t.kind] is t else ""
        table.add_row(t.kind, str(t.round), f"{t.seconds:.2f}", f"{t.rate:,.0f}{mark}")
    table.add_row(
        "replay (ours, all duplicates)",
        "",
        f"{replay_seconds:.2f}",
        f"{rows / replay_seconds:,.0f}",
    )
    console.print(table)
    ours, raw = best["ours"].rate, best["raw COPY"].rate
    print(f"replay: {replay_seconds:.2f} s, duplicates {rows:,}, loaded 0")
    print(
        f"ingest: ours {ours:,.0f} rows/s, raw COPY {raw:,.0f} rows/s, "
        f"ratio {ours / raw:.2f} (target >= 0.5)"
    )


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="readings to ingest")
    args = parser.parse_args()
    asyncio.run(bench(args.rows))


if __name__ == "__main__":
    main()
