"""Ingest benchmark: the package's CSV ingest against the floor, a binary COPY of the same rows
pre-encoded by PostgreSQL itself (nothing is encoded while the clock runs)."""

import asyncio
import io
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import numpy as np
from common import (
    VARIABLES,
    canonical_csv,
    empty_store,
    figures_parser,
    place_sensors,
    print_figures,
)
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
FLOOR = "binary COPY"  # the baseline: pre-encoded rows, one COPY

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
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    return time.perf_counter() - began, report


async def run_raw(
    conn: asyncpg.Connection, encoded: bytes, span: tuple[datetime, datetime]
) -> float:
    """Seconds taken by one binary COPY of the pre-encoded `encoded` rows into `readings`
    (partitions made first): the floor of any load into this table."""
    await conn.execute("SELECT ensure_readings_partitions($1, $2)", *span)
    began = time.perf_counter()
    await conn.copy_to_table(
        "readings", source=io.BytesIO(encoded), columns=READING_COLUMNS, format="binary"
    )
    return time.perf_counter() - began


async def snapshot(conn: asyncpg.Connection) -> tuple[bytes, tuple[datetime, datetime]]:
    """The stored readings as PostgreSQL's own binary COPY encoding, in key order, and their
    time span."""
    sink = io.BytesIO()
    columns = ", ".join(READING_COLUMNS)
    await conn.copy_from_query(
        f"SELECT {columns} FROM readings ORDER BY sensor_id, variable_id, time",
        output=sink,
        format="binary",
    )
    span = await conn.fetchrow("SELECT min(time), max(time) FROM readings")
    return sink.getvalue(), (span[0], span[1])


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


async def bench(rows: int) -> tuple[list[Timing], float]:
    """Alternate ours and raw COPY `ROUNDS` times on an emptied store, then replay once."""
    settings = Settings().updated(pg_database="citytwin_bench")
    url = await prepare_store(settings)
    feed = load_feeds(settings.ingest.feeds_dir)["air"]
    began = time.perf_counter()
    data = make_csv(rows)
    console.print(
        f"generated {rows:,} rows, {len(data) / 1e6:.1f} MB of CSV "
        f"in {time.perf_counter() - began:.2f} s"
    )
    conn = await connect(url)
    timings: list[Timing] = []
    encoded = b""
    try:
        for round_ in range(1, ROUNDS + 1):
            await empty_store(conn)
            seconds, report = await run_ours(conn, feed, data, settings)
            if report.loaded != rows or report.rejected:
                raise SystemExit(f"ours loaded {report.loaded:,} of {rows:,}: {report.as_dict()}")
            timings.append(Timing("ours", round_, seconds, rows))
            if not encoded:
                encoded, span = await snapshot(conn)
            if round_ == ROUNDS:
                replay_seconds, replay = await run_ours(conn, feed, data, settings)
                if replay.duplicates != rows or replay.loaded != 0:
                    raise SystemExit(f"replay: {replay.as_dict()}")
            await empty_store(conn)
            seconds = await run_raw(conn, encoded, span)
            stored = await conn.fetchval("SELECT count(*) FROM readings")
            if stored != rows:
                raise SystemExit(f"raw COPY stored {stored:,} of {rows:,}")
            timings.append(Timing(FLOOR, round_, seconds, rows))
        await empty_store(conn)
    finally:
        await conn.close()
    return timings, replay_seconds


def report_table(timings: list[Timing], replay_seconds: float, rows: int) -> dict:
    """Print every run, the replay, and the best-of summary line; the figures."""
    table = Table(title=f"ingest of {rows:,} readings (best of {ROUNDS} marked *)")
    for column in ("run", "round", "seconds", "rows/s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    best = {
        kind: min((t for t in timings if t.kind == kind), key=lambda t: t.seconds)
        for kind in ("ours", FLOOR)
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
    ours, raw = best["ours"].rate, best[FLOOR].rate
    print(f"replay: {replay_seconds:.2f} s, duplicates {rows:,}, loaded 0")
    print(
        f"ingest: ours {ours:,.0f} rows/s, {FLOOR} {raw:,.0f} rows/s, "
        f"ratio {ours / raw:.2f} (target >= 0.5)"
    )
    return {
        "rows": rows,
        "ours_rows_per_s": ours,
        "binary_copy_rows_per_s": raw,
        "ingest_vs_binary_copy": ours / raw,
        "replay_seconds": replay_seconds,
    }


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = figures_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="readings to ingest")
    args = parser.parse_args()
    timings, replay_seconds = asyncio.run(bench(args.rows))
    print_figures({"ingest": report_table(timings, replay_seconds, args.rows)}, args.json)


if __name__ == "__main__":
    main()
