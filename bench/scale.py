"""Scale benchmark: a store of `--readings N` (2,000 sensors x 4 variables, their stamps spread
over the first quarter of 2026), then each figure beside its strongest baseline in the same run:

- ingest of a further chunk against the floor, a binary COPY of the same rows pre-encoded by
  PostgreSQL itself (`ingest_vs_binary_copy`);
- live loads (one stamp of every sensor: 8,000 readings) committed end to end into days that
  have rollups (`live_load_ms`), beside the previous design's cost, the load plus merging its
  rollups into the day rows in the same transaction (measured as load + compaction of just it);
- wide loads (one stamp of a 20,000-sensor city: 80,000 readings, about 78,000 rollup keys)
  committed end to end into days that have rollups (`wide_load_ms`, median), without the quality
  stage; the sensors are registered by one untimed load before;
- `/cells` at r7 over the quarter (`cells_quarter_r7_p95_ms`, HTTP in-process) against the raw
  readings with a covering index and an hourly materialized view (SQL alone);
- daily r9 buckets of the quarter streamed as NDJSON (`ndjson_quarter_features_per_s`) against
  the same features as GeoJSON pages following `next` (one run);
- cold cell tiles at z12 over the quarter, built per request with no tile cache
  (`cold_tile_z12_p95_ms`), against the same tile's aggregation alone in SQL from the hourly
  materialized view (no encoding);
- warm cell tiles per second under a trickle of small loads every second over idle
  (`warm_trickle_ratio`, in-process client), beside the same with every load forgetting every
  tile (the previous, global invalidation).
"""

import asyncio
import io
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import morecantile
import numpy as np
from common import (
    VARIABLES,
    Sensors,
    canonical_csv,
    empty_store,
    figures_parser,
    paged_cells,
    place_sensors,
    print_figures,
)
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from citytwin.api.app import create_app
from citytwin.cli import prepare_store
from citytwin.db.compaction import compact_rollups
from citytwin.db.pool import connect
from citytwin.feeds import load_feeds
from citytwin.query.cells import cells_for
from citytwin.services.ingest import ingest
from citytwin.settings import Settings
from citytwin.tiles.tile_matrix import resolution_for_zoom

DATABASE = "citytwin_bench_scale"
SENSORS = 2_000
PER_STAMP = SENSORS * len(VARIABLES)  # 8,000 readings: one live load
BOUNDS = (9.30, 47.00, 9.80, 47.35)  # about 38 x 39 km
QUARTER = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
AFTER = datetime(2026, 4, 2, tzinfo=UTC)  # the chunk and the live loads come after the quarter
CHUNK_READINGS = 1_000_000
BYTES_PER_READING = 400  # readings, their indexes, rollups, the covering index and the view
LIVE_LOADS = 10
WIDE_SENSORS = 20_000  # a city ten times this one: 80,000 readings a stamp
WIDE_LOADS = 3
STREAM_RUNS = 3
LIVE_CADENCE = timedelta(minutes=10)
VARIABLE = "no2"
API_RUNS, SQL_RUNS = 30, 5
COLD_ROUNDS = 3  # every tile timed this often from a service that keeps none
TRICKLE_SENSORS = 10  # each second: one stamp of 10 sensors (40 readings)
THROUGHPUT_SECONDS = 8
CLIENTS = 8
ZOOMS = (12, 13)
SEED = 2026_17
READING_COLUMNS = ["sensor_id", "variable_id", "time", "value", "cell", "flagged", "geom"]
RAW_SQL = """
SELECT h3_parent(cell, 7) AS cell, count(*) AS count, avg(value) AS mean
FROM readings WHERE variable_id = $1 AND time >= $2 AND time < $3 AND NOT flagged GROUP BY 1"""
COVERING_INDEX = """CREATE INDEX IF NOT EXISTS bench_readings_covering
ON readings (variable_id, time) INCLUDE (cell, value, flagged)"""
HOURLY_VIEW = """CREATE MATERIALIZED VIEW IF NOT EXISTS bench_hourly AS
SELECT variable_id, date_trunc('hour', time) AS hour, cell, count(*) AS n, sum(value) AS total,
       min(value) AS low, max(value) AS high
FROM readings WHERE NOT flagged AND time < '2026-04-01' GROUP BY 1, 2, 3"""
VIEW_INDEX = "CREATE INDEX IF NOT EXISTS bench_hourly_key ON bench_hourly (variable_id, hour)"
COLD_ZOOM = 12
TILE_VIEW_SQL = """
SELECT h3_parent(v.cell, $4) AS cell, sum(v.n)::bigint AS count, sum(v.total) / sum(v.n) AS mean
FROM bench_hourly v JOIN cells c ON c.cell = v.cell
WHERE v.variable_id = $1 AND v.hour >= $2 AND v.hour < $3
  AND c.center && ST_Transform(ST_TileEnvelope($5, $6, $7), 4326)
GROUP BY 1"""
VIEW_SQL = """
SELECT h3_parent(cell, 7) AS cell, sum(n)::bigint AS count, sum(total) / sum(n) AS mean
FROM bench_hourly WHERE variable_id = $1 AND hour >= $2 AND hour < $3 GROUP BY 1"""

console = Console()
sensors = place_sensors(SENSORS, BOUNDS, np.random.default_rng(SEED))


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def quarter_stamps(readings: int) -> np.ndarray:
    """`readings / 8,000` stamps spread evenly over the quarter (whole seconds)."""
    count = max(readings // PER_STAMP, 1)
    span = (QUARTER[1] - QUARTER[0]).total_seconds()
    step = np.timedelta64(int(span // count), "s")
    start = np.datetime64(QUARTER[0].replace(tzinfo=None), "s")
    return start + np.arange(count) * step


def stamps_from(first: datetime, count: int, step: timedelta) -> np.ndarray:
    start = np.datetime64(first.replace(tzinfo=None), "s")
    return start + np.arange(count) * np.timedelta64(int(step.total_seconds()), "s")


def check_disk(settings: Settings, readings: int) -> None:
    """Refuse before anything starts when the store would not fit on the disk."""
    needed = readings * BYTES_PER_READING
    free = shutil.disk_usage(settings.database.state_dir).free
    if needed > free:
        raise SystemExit(
            f"a store of {readings:,} readings needs about {needed / 1e9:.1f} GB on "
            f"{settings.database.state_dir}; {free / 1e9:.1f} GB are free"
        )


async def load(conn: asyncpg.Connection, settings: Settings, data: bytes) -> float:
    """Seconds to ingest `data` through the package; exits on anything but a clean load. The
    feed definitions are read before the clock starts, as a server holds them."""
    feed = load_feeds(settings.ingest.feeds_dir)["air"]
    began = time.perf_counter()
    report = await ingest(
        conn,
        feed,
        data,
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    if report.rejected or report.duplicates:
        raise SystemExit(f"load: {report.as_dict(3)}")
    return time.perf_counter() - began


async def build(conn: asyncpg.Connection, settings: Settings, readings: int) -> None:
    """The quarter's store through the package in ~1M-reading chunks, with the hourly view,
    unless already there (then what a previous run added after the quarter goes)."""
    stamps = quarter_stamps(readings)
    expected = len(stamps) * PER_STAMP
    await conn.execute("DROP INDEX IF EXISTS bench_readings_covering")
    stored = await conn.fetchval("SELECT count(*) FROM readings WHERE time < $1", QUARTER[1])
    if stored == expected:
        console.print(f"cached: {expected:,} readings stored")
        for statement in (
            "DROP TABLE IF EXISTS readings_2026_04",
            "DELETE FROM cell_rollups WHERE day >= '2026-04-01'",
            "DELETE FROM cell_rollup_deltas WHERE day >= '2026-04-01'",
            "DELETE FROM sensor_hours WHERE hour >= '2026-04-01'",
            "DELETE FROM sensor_hour_deltas WHERE hour >= '2026-04-01'",
            "DELETE FROM cell_rollup_months WHERE month >= '2026-04-01'",
            "DELETE FROM cell_rollup_months_built WHERE month >= '2026-04-01'",
            "DELETE FROM tile_versions WHERE day >= '2026-04-01'",
            "DELETE FROM latest_readings",
        ):
            await conn.execute(statement)
        return
    await conn.execute("DROP MATERIALIZED VIEW IF EXISTS bench_hourly")
    await empty_store(conn)
    rng = np.random.default_rng(SEED)
    chunk = max(CHUNK_READINGS // PER_STAMP, 1)
    began = time.perf_counter()
    for first in range(0, len(stamps), chunk):
        await load(conn, settings, canonical_csv(sensors, stamps[first : first + chunk], rng))
        done = min(first + chunk, len(stamps)) * PER_STAMP
        console.print(f"  {done:,} readings, {time.perf_counter() - began:.0f} s")
    await conn.execute(HOURLY_VIEW)
    await conn.execute(VIEW_INDEX)
    await conn.execute("VACUUM ANALYZE")
    console.print(f"built {expected:,} readings in {time.perf_counter() - began:.0f} s")


async def ingest_against_floor(conn: asyncpg.Connection, settings: Settings) -> dict:
    """A further chunk (its own month partition) ingested, then the same rows as a binary
    COPY encoded by PostgreSQL beforehand into the emptied partition."""
    stamps = stamps_from(AFTER, CHUNK_READINGS // PER_STAMP, LIVE_CADENCE)
    data = canonical_csv(sensors, stamps, np.random.default_rng(SEED + 1))
    ours = await load(conn, settings, data)
    rows = len(stamps) * PER_STAMP
    encoded = io.BytesIO()
    await conn.copy_from_query(
        f"SELECT {', '.join(READING_COLUMNS)} FROM readings WHERE time >= $1 "
        "ORDER BY sensor_id, variable_id, time",
        AFTER,
        output=encoded,
        format="binary",
    )
    await conn.execute("TRUNCATE readings_2026_04")
    began = time.perf_counter()
    encoded.seek(0)
    await conn.copy_to_table("readings", source=encoded, columns=READING_COLUMNS, format="binary")
    floor = time.perf_counter() - began
    return {
        "rows": rows,
        "ours_s": ours,
        "floor_s": floor,
        "next": AFTER + len(stamps) * LIVE_CADENCE,
    }


async def wal_bytes(conn: asyncpg.Connection, since: str) -> int:
    return int(await conn.fetchval("SELECT pg_current_wal_lsn() - $1::text::pg_lsn", since))


async def live_loads(conn: asyncpg.Connection, settings: Settings, first: datetime) -> dict:
    """`LIVE_LOADS` loads of one stamp each, then one compaction; then the previous design's
    cost: one more load and the merge of just its rollups."""
    rng = np.random.default_rng(SEED + 2)
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    seconds, wal = [], []
    for i in range(LIVE_LOADS + 1):
        data = canonical_csv(sensors, stamps_from(first + i * LIVE_CADENCE, 1, LIVE_CADENCE), rng)
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        seconds.append(await load(conn, settings, data))
        wal.append(await wal_bytes(conn, lsn))
        if i == LIVE_LOADS - 1:
            began = time.perf_counter()
            folded = await compact_rollups(conn, settings.database.rollup_bucket_seconds)
            compaction = time.perf_counter() - began
    began = time.perf_counter()
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    merge_one = time.perf_counter() - began
    ms = [s * 1e3 for s in seconds[:LIVE_LOADS]]
    return {
        "live_load_p50_ms": p(ms, 50),
        "live_load_p95_ms": p(ms, 95),
        "live_load_wal_kb": float(np.median(wal[:LIVE_LOADS]) / 1024),
        "compaction_ms": compaction * 1e3,
        "compaction_rows": folded,
        "merged_load_ms": (seconds[-1] + merge_one) * 1e3,
        "next": first + (LIVE_LOADS + 1) * LIVE_CADENCE,
    }


async def wide_loads(conn: asyncpg.Connection, settings: Settings, first: datetime) -> dict:
    """`WIDE_LOADS` loads of one stamp of `WIDE_SENSORS` sensors each, after one untimed load
    that registers them, then one compaction (untimed, off the loads' path)."""
    rng = np.random.default_rng(SEED + 3)
    placed = place_sensors(WIDE_SENSORS, BOUNDS, rng)
    wide = Sensors([f"wide-{i:05d}" for i in range(WIDE_SENSORS)], placed.lon, placed.lat)
    cells = cells_for(wide.lon, wide.lat, settings.ingest.h3_resolution)
    keys = len(np.unique(cells)) * len(VARIABLES)  # one day: (variable, day, cell)
    seconds, wal = [], []
    for i in range(WIDE_LOADS + 1):
        data = canonical_csv(wide, stamps_from(first + i * LIVE_CADENCE, 1, LIVE_CADENCE), rng)
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        seconds.append(await load(conn, settings, data))
        wal.append(await wal_bytes(conn, lsn))
    await compact_rollups(conn, settings.database.rollup_bucket_seconds)
    ms = [s * 1e3 for s in seconds[1:]]
    return {
        "wide_load_ms": float(np.median(ms)),
        "wide_load_max_ms": max(ms),
        "wide_load_readings": WIDE_SENSORS * len(VARIABLES),
        "wide_load_keys": keys,
        "wide_load_wal_kb": float(np.median(wal[1:]) / 1024),
        "next": first + (WIDE_LOADS + 1) * LIVE_CADENCE,
    }


async def stream_quarter(client: httpx.AsyncClient) -> dict:
    """Features per second of the quarter's daily r9 buckets streamed as NDJSON (median of
    `STREAM_RUNS`), against the same features as GeoJSON pages following `next` (once)."""
    params = {
        "variable": VARIABLE,
        "resolution": 9,
        "bucket": "1d",
        "start": "2026-01-01",
        "end": "2026-04-01",
    }
    rates, lines = [], 0
    for _ in range(STREAM_RUNS):
        began, lines = time.perf_counter(), 0
        async with client.stream("GET", "/cells", params=params | {"format": "ndjson"}) as answer:
            answer.raise_for_status()
            # Features counted by their newlines in the (decompressed) bytes: no line splitting
            # or text decoding in the client.
            async for chunk in answer.aiter_bytes():
                lines += chunk.count(b"\n")
        rates.append(lines / (time.perf_counter() - began))
    began = time.perf_counter()
    count = await paged_cells(client, params)
    paged = count / (time.perf_counter() - began)
    if lines != count:
        raise SystemExit(f"NDJSON streamed {lines} features, the pages held {count}")
    return {
        "ndjson_quarter_features": lines,
        "ndjson_quarter_features_per_s": float(np.median(rates)),
        "paged_quarter_features_per_s": paged,
    }


async def timed(call: Callable[[], Awaitable], runs: int) -> tuple[list[float], object]:
    latencies, result = [], None
    for run in range(runs + 1):
        began = time.perf_counter()
        result = await call()
        if run:  # the first is a warm-up
            latencies.append((time.perf_counter() - began) * 1e3)
    return latencies, result


async def cells_quarter(conn: asyncpg.Connection, client: httpx.AsyncClient) -> dict:
    """GET /cells at r7 over the quarter against the covering-index scan and the hourly view."""
    began = time.perf_counter()
    await conn.execute(COVERING_INDEX)  # built now: the loads above did not maintain it
    await conn.execute("VACUUM ANALYZE readings")
    console.print(f"covering index in {time.perf_counter() - began:.0f} s")
    variable = await conn.fetchval("SELECT id FROM variables WHERE name = $1", VARIABLE)
    params = {"variable": VARIABLE, "resolution": 7, "start": "2026-01-01", "end": "2026-04-01"}

    async def api() -> dict:
        response = await client.get("/cells", params=params)
        response.raise_for_status()
        return {
            f["properties"]["h3"]: f["properties"]["count"] for f in response.json()["features"]
        }

    ours, answer = await timed(api, API_RUNS)
    raw, raw_rows = await timed(lambda: conn.fetch(RAW_SQL, variable, *QUARTER), SQL_RUNS)
    view, view_rows = await timed(lambda: conn.fetch(VIEW_SQL, variable, *QUARTER), SQL_RUNS)
    for name, rows in (("raw", raw_rows), ("view", view_rows)):
        if {format(r["cell"], "x"): r["count"] for r in rows} != answer:
            raise SystemExit(f"/cells and the {name} baseline disagree")
    return {
        "cells": len(answer),
        "cells_quarter_r7_p50_ms": p(ours, 50),
        "cells_quarter_r7_p95_ms": p(ours, 95),
        "raw_covering_p50_ms": p(raw, 50),
        "matview_p50_ms": p(view, 50),
    }


def city_tiles(zooms: tuple[int, ...]) -> list[morecantile.Tile]:
    return list(morecantile.tms.get("WebMercatorQuad").tiles(*BOUNDS, zooms))


def tile_paths(window: dict, zooms: tuple[int, ...] = ZOOMS) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in window.items())
    return [f"/tiles/cells/{t.z}/{t.x}/{t.y}.mvt?{query}" for t in city_tiles(zooms)]


async def cold_tiles(conn: asyncpg.Connection, settings: Settings) -> dict:
    """z12 cell tiles over the quarter from a service that keeps no tile (each built from the
    store per request), against each tile's aggregation alone from the hourly view."""
    window = {"variable": VARIABLE, "start": "2026-01-01", "end": "2026-04-01"}
    app = create_app(settings.updated(tile_cache_size=0))
    transport = httpx.ASGITransport(app=app)
    latencies = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client,
    ):
        paths = tile_paths(window, (COLD_ZOOM,))
        for round_ in range(COLD_ROUNDS + 1):  # the first warms PostgreSQL's buffers only
            for path in paths:
                began = time.perf_counter()
                (await client.get(path)).raise_for_status()
                if round_:
                    latencies.append((time.perf_counter() - began) * 1e3)
    variable = await conn.fetchval("SELECT id FROM variables WHERE name = $1", VARIABLE)
    resolution = resolution_for_zoom(COLD_ZOOM, settings.ingest.h3_resolution)
    baseline = []
    for tile in city_tiles((COLD_ZOOM,)):
        spent, _ = await timed(
            lambda t=tile: conn.fetch(TILE_VIEW_SQL, variable, *QUARTER, resolution, t.z, t.x, t.y),
            1,
        )
        baseline += spent
    return {
        "tiles": len(paths),
        "cold_tile_z12_p50_ms": p(latencies, 50),
        "cold_tile_z12_p95_ms": p(latencies, 95),
        "tile_view_sql_p95_ms": p(baseline, 95),
    }


async def throughput(client: httpx.AsyncClient, paths: list[str]) -> float:
    """Tiles per second from `CLIENTS` concurrent clients cycling through `paths`."""
    done, stop = 0, time.perf_counter() + THROUGHPUT_SECONDS

    async def one(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            (await client.get(paths[i % len(paths)])).raise_for_status()
            done += 1
            i += 1

    began = time.perf_counter()
    await asyncio.gather(*(one(k * 7) for k in range(CLIENTS)))
    return done / (time.perf_counter() - began)


async def trickling(url: str, settings: Settings, first: datetime, stop: asyncio.Event) -> int:
    """Every second, one stamp of `TRICKLE_SENSORS` sensors loaded on its own connection."""
    conn = await connect(url)
    rng = np.random.default_rng(SEED + 3)
    loads = 0
    try:
        while not stop.is_set():
            picked = rng.choice(SENSORS, TRICKLE_SENSORS, replace=False)
            few = type(sensors)(
                [sensors.ids[i] for i in picked], sensors.lon[picked], sensors.lat[picked]
            )
            stamp = stamps_from(first + loads * timedelta(seconds=1), 1, LIVE_CADENCE)
            await load(conn, settings, canonical_csv(few, stamp, rng))
            loads += 1
            await asyncio.sleep(1.0)
    finally:
        await conn.close()
    return loads


async def warm_tiles(
    app: FastAPI, client: httpx.AsyncClient, url: str, settings: Settings, first: datetime
) -> dict:
    """Warm tiles/s idle and under the trickle, for a past week and for the live week; the
    same under global invalidation (every load forgets every tile)."""
    versions = app.state.tile_versions
    figures = {}
    windows = {
        "past_week": {"variable": VARIABLE, "start": "2026-03-01", "end": "2026-03-08"},
        "live_week": {"variable": VARIABLE, "start": "2026-03-28", "end": "2026-04-30"},
    }
    for name, window in windows.items():
        paths = tile_paths(window)
        for _ in range(2):
            for path in paths:
                (await client.get(path)).raise_for_status()
        idle = await throughput(client, paths)
        for mode in ("ours", "global"):
            if mode == "global":
                versions.forget = lambda _changed: versions.invalidate()
            stop = asyncio.Event()
            trickle = asyncio.create_task(trickling(url, settings, first, stop))
            busy = await throughput(client, paths)
            stop.set()
            await trickle
            first += timedelta(minutes=5)
            if mode == "global":
                del versions.forget
            figures[f"{name}_{mode}"] = {"tiles": len(paths), "idle": idle, "trickle": busy}
    return figures


def without_quality(settings: Settings, folder: Path) -> Settings:
    """The same settings with the feeds' quality rules left out (written to `folder`): the
    load path without the quality stage's read of stored history (issue 15)."""
    for definition in settings.ingest.feeds_dir.glob("*.yaml"):
        text = re.sub(r"^\s+quality: \{.*\}\n", "", definition.read_text(), flags=re.M)
        (folder / definition.name).write_text(text)
    return settings.updated(feeds_dir=folder)


async def bench(readings: int) -> dict:
    settings = Settings().updated(pg_database=DATABASE, rollup_compact_seconds=0)
    check_disk(settings, readings)
    url = await prepare_store(settings)
    conn = await connect(url)
    try:
        await build(conn, settings, readings)
        figures = {"readings": readings}
        chunk = await ingest_against_floor(conn, settings)
        figures["ingest"] = chunk
        live = await live_loads(conn, settings, chunk.pop("next"))
        figures["live"] = live
        with tempfile.TemporaryDirectory() as folder:
            plain = without_quality(settings, Path(folder))
            figures["live_plain"] = await live_loads(conn, plain, live.pop("next"))
            figures["wide"] = await wide_loads(conn, plain, figures["live_plain"].pop("next"))
        await conn.execute("VACUUM ANALYZE cell_rollups, cell_rollup_deltas, tile_versions")
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
            ) as client,
        ):
            figures["cells"] = await cells_quarter(conn, client)
            figures["stream"] = await stream_quarter(client)
            first = figures["wide"].pop("next")
            figures["cold_tiles"] = await cold_tiles(conn, settings)
            figures["tiles"] = await warm_tiles(app, client, url, settings, first)
    finally:
        await conn.close()
    return figures


def report(figures: dict) -> dict:
    ingest_, live, cells, tiles = (figures[k] for k in ("ingest", "live", "cells", "tiles"))
    table = Table(title=f"Scale: {figures['readings']:,} readings, 2,000 sensors x 4 variables")
    for column in ("figure", "ours", "baseline", "baseline is"):
        table.add_column(column, justify="right")
    ours_rate = ingest_["rows"] / ingest_["ours_s"]
    floor_rate = ingest_["rows"] / ingest_["floor_s"]
    table.add_row(
        f"ingest {ingest_['rows']:,} readings/s",
        f"{ours_rate:,.0f}",
        f"{floor_rate:,.0f}",
        "binary COPY, pre-encoded",
    )
    table.add_row(
        "live load 8,000 readings p50 / p95 ms",
        f"{live['live_load_p50_ms']:.0f} / {live['live_load_p95_ms']:.0f}",
        f"{live['merged_load_ms']:.0f}",
        "load + merging its rollups in it",
    )
    plain = figures["live_plain"]
    table.add_row(
        "  the same without the quality stage",
        f"{plain['live_load_p50_ms']:.0f} / {plain['live_load_p95_ms']:.0f}",
        f"{plain['merged_load_ms']:.0f}",
        "load + merging its rollups in it",
    )
    table.add_row("  WAL per live load, kB", f"{live['live_load_wal_kb']:,.0f}", "", "")
    table.add_row(
        f"  compaction of {LIVE_LOADS} loads' deltas, ms",
        f"{live['compaction_ms']:.0f}",
        "",
        f"{live['compaction_rows']:,} delta rows, off the loads' path",
    )
    wide = figures["wide"]
    table.add_row(
        f"wide load {wide['wide_load_readings']:,} readings ({wide['wide_load_keys']:,} keys) "
        "median / max ms",
        f"{wide['wide_load_ms']:.0f} / {wide['wide_load_max_ms']:.0f}",
        "",
        "without the quality stage",
    )
    table.add_row("  WAL per wide load, kB", f"{wide['wide_load_wal_kb']:,.0f}", "", "")
    table.add_row(
        f"/cells r7 quarter ({cells['cells']} cells) p50 / p95 ms",
        f"{cells['cells_quarter_r7_p50_ms']:.1f} / {cells['cells_quarter_r7_p95_ms']:.1f}",
        f"{cells['raw_covering_p50_ms']:.0f} / {cells['matview_p50_ms']:.0f}",
        "raw covering index / hourly view p50 (SQL)",
    )
    stream = figures["stream"]
    table.add_row(
        f"NDJSON daily r9 quarter ({stream['ndjson_quarter_features']:,} features) features/s",
        f"{stream['ndjson_quarter_features_per_s']:,.0f}",
        f"{stream['paged_quarter_features_per_s']:,.0f}",
        "GeoJSON pages following next",
    )
    cold = figures["cold_tiles"]
    table.add_row(
        f"cold tile z12 quarter ({cold['tiles']} tiles) p50 / p95 ms",
        f"{cold['cold_tile_z12_p50_ms']:.1f} / {cold['cold_tile_z12_p95_ms']:.1f}",
        f"{cold['tile_view_sql_p95_ms']:.1f}",
        "the tile's cells from the hourly view, p95 (SQL, no encoding)",
    )
    ratios = {}
    for key, row in tiles.items():
        ratios[key] = row["trickle"] / row["idle"]
    for window in ("past_week", "live_week"):
        ours, whole = tiles[f"{window}_ours"], tiles[f"{window}_global"]
        table.add_row(
            f"warm tiles/s {window} ({ours['tiles']} tiles) idle -> trickle",
            f"{ours['idle']:,.0f} -> {ours['trickle']:,.0f} ({ratios[f'{window}_ours']:.2f})",
            f"{whole['trickle']:,.0f} ({ratios[f'{window}_global']:.2f})",
            "every load forgets every tile",
        )
    console.print(table)
    return {
        "readings": figures["readings"],
        "live_load_ms": live["live_load_p95_ms"],
        "live_load_p50_ms": live["live_load_p50_ms"],
        "merged_load_ms": live["merged_load_ms"],
        "live_load_without_quality_ms": plain["live_load_p95_ms"],
        "live_load_without_quality_p50_ms": plain["live_load_p50_ms"],
        "merged_load_without_quality_ms": plain["merged_load_ms"],
        "live_load_wal_kb": live["live_load_wal_kb"],
        "compaction_ms": live["compaction_ms"],
        "wide_load_ms": wide["wide_load_ms"],
        "wide_load_max_ms": wide["wide_load_max_ms"],
        "wide_load_keys": wide["wide_load_keys"],
        "wide_load_wal_kb": wide["wide_load_wal_kb"],
        "ndjson_quarter_features_per_s": stream["ndjson_quarter_features_per_s"],
        "paged_quarter_features_per_s": stream["paged_quarter_features_per_s"],
        "cells_quarter_r7_p95_ms": cells["cells_quarter_r7_p95_ms"],
        "cells_quarter_r7_p50_ms": cells["cells_quarter_r7_p50_ms"],
        "raw_covering_p50_ms": cells["raw_covering_p50_ms"],
        "matview_p50_ms": cells["matview_p50_ms"],
        "cold_tile_z12_p95_ms": cold["cold_tile_z12_p95_ms"],
        "cold_tile_z12_p50_ms": cold["cold_tile_z12_p50_ms"],
        "tile_view_sql_p95_ms": cold["tile_view_sql_p95_ms"],
        "warm_trickle_ratio": ratios["live_week_ours"],
        "warm_trickle_ratio_past_week": ratios["past_week_ours"],
        "warm_trickle_ratio_global_invalidation": ratios["live_week_global"],
        "ingest_vs_binary_copy": ours_rate / floor_rate,
    }


def main() -> None:
    parser = figures_parser(__doc__)
    parser.add_argument(
        "--readings", type=int, default=10_000_000, help="size of the store (default 10M)"
    )
    args = parser.parse_args()
    if args.readings < PER_STAMP:
        parser.error(f"--readings must be at least {PER_STAMP:,} (one stamp of every sensor)")
    print_figures(report(asyncio.run(bench(args.readings))), args.json)


if __name__ == "__main__":
    main()
