"""`/cells` benchmark: city-wide week aggregates from the rollups (through the API) against the
strongest plain-PostgreSQL answers to the same question in the same run: the raw readings with a
covering index `(variable_id, time) INCLUDE (cell, value, flagged)` (index-only scans), and an
hourly materialized view per cell (SQL alone, no HTTP)."""

import asyncio
import time
from datetime import UTC, datetime

import asyncpg
import h3.api.basic_int as h3
import httpx
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
from rich.console import Console
from rich.table import Table

from citytwin.api.app import create_app
from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.feeds import load_feeds
from citytwin.query.cells import to_hex
from citytwin.query.params import Area, TimeRange
from citytwin.services.ingest import ingest
from citytwin.settings import Settings

# 560 sensors over Vaduz and Schaan, 4 variables every 10 minutes through January 2026.
SENSORS = 560
BOUNDS = (9.47, 47.10, 9.56, 47.20)
CADENCE = np.timedelta64(10, "m")
STAMPS = np.arange(
    np.datetime64("2026-01-01T00:00"), np.datetime64("2026-02-01T00:00"), CADENCE
).astype("datetime64[s]")
EXPECTED_ROWS = SENSORS * len(VARIABLES) * len(STAMPS)  # 9,999,360
CHUNK_STAMPS = 432  # 3 days: 967,680 readings per ingest
SEED = 202601

VARIABLE = "no2"
START, END = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)
RESOLUTIONS = (7, 8, 9)
WARMUPS = 5
API_RUNS = 100
RAW_RUNS = 15
STREAM_RUNS = 3
RAW_SQL = """
SELECT h3_parent(cell, $4) AS cell, count(*) AS count, avg(value) AS mean,
       min(value) AS min, max(value) AS max
FROM readings
WHERE variable_id = $1 AND time >= $2 AND time < $3 AND NOT flagged
GROUP BY 1"""
# The strongest raw baseline: every column the aggregate reads is in the index.
COVERING_INDEX = """
CREATE INDEX IF NOT EXISTS bench_readings_covering
ON readings (variable_id, time) INCLUDE (cell, value, flagged)"""
# The usual pre-aggregation a team would hand-roll: hourly totals per base cell.
HOURLY_VIEW = """
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_hourly AS
SELECT variable_id, date_trunc('hour', time) AS hour, cell, count(*) AS n, sum(value) AS total,
       min(value) AS low, max(value) AS high
FROM readings WHERE NOT flagged GROUP BY 1, 2, 3"""
HOURLY_VIEW_INDEX = (
    "CREATE INDEX IF NOT EXISTS bench_hourly_key ON bench_hourly (variable_id, hour)"
)
VIEW_SQL = """
SELECT h3_parent(cell, $4) AS cell, sum(n)::bigint AS count, sum(total) / sum(n) AS mean,
       min(low) AS min, max(high) AS max
FROM bench_hourly
WHERE variable_id = $1 AND hour >= $2 AND hour < $3
GROUP BY 1"""

console = Console()
Answer = dict[str, tuple[int, float, float, float]]  # hex cell → count, mean, min, max


def city_sensors() -> tuple[Sensors, np.random.Generator]:
    """The fixed sensors, and the generator that then draws their values."""
    rng = np.random.default_rng(SEED)
    return place_sensors(SENSORS, BOUNDS, rng), rng


async def load(conn: asyncpg.Connection, settings: Settings) -> None:
    """Ingest the month through the package in 3-day chunks, unless it is already stored."""
    stored = await conn.fetchval("SELECT count(*) FROM readings")
    if stored == EXPECTED_ROWS:
        console.print(f"cached: {stored:,} readings already stored")
        return
    await empty_store(conn)
    feed = load_feeds(settings.ingest.feeds_dir)["air"]
    sensors, rng = city_sensors()
    began = time.perf_counter()
    for first in range(0, len(STAMPS), CHUNK_STAMPS):
        data = canonical_csv(sensors, STAMPS[first : first + CHUNK_STAMPS], rng)
        chunk_began = time.perf_counter()
        report = await ingest(
            conn,
            feed,
            data,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
        )
        if report.rejected or report.duplicates:
            raise SystemExit(f"chunk at {STAMPS[first]}: {report.as_dict()}")
        console.print(
            f"  {STAMPS[first]}: {report.loaded:,} readings in "
            f"{time.perf_counter() - chunk_began:.1f} s"
        )
    seconds = time.perf_counter() - began
    console.print(f"loaded {EXPECTED_ROWS:,} readings in {seconds:.0f} s")
    began = time.perf_counter()
    await conn.execute("VACUUM ANALYZE readings, cell_rollups, cells, sensors")
    console.print(f"VACUUM ANALYZE in {time.perf_counter() - began:.0f} s")


def expected_cells(sensors: Sensors, base: int, resolution: int) -> set[str]:
    """Hex cells at `resolution` holding a sensor, from the sensors' coordinates."""
    return {
        to_hex(h3.cell_to_parent(h3.latlng_to_cell(lat, lon, base), resolution))
        for lon, lat in zip(sensors.lon, sensors.lat, strict=True)
    }


async def time_api(client: httpx.AsyncClient, resolution: int) -> tuple[list[float], Answer]:
    """Latencies (ms) of GET /cells after warm-ups, and the decoded answer."""
    params = {
        "variable": VARIABLE,
        "resolution": resolution,
        "start": START.isoformat().replace("+00:00", "Z"),
        "end": END.isoformat().replace("+00:00", "Z"),
    }
    latencies = []
    for run in range(WARMUPS + API_RUNS):
        began = time.perf_counter()
        response = await client.get("/cells", params=params)
        elapsed = (time.perf_counter() - began) * 1e3
        response.raise_for_status()
        if run >= WARMUPS:
            latencies.append(elapsed)
    document = response.json()
    if document.get("type") != "FeatureCollection":
        raise SystemExit(f"/cells r{resolution} answered {document.get('type')!r}")
    answer = {
        f["properties"]["h3"]: tuple(f["properties"][k] for k in ("count", "mean", "min", "max"))
        for f in document["features"]
    }
    return latencies, answer


async def time_rollup_sql(
    conn: asyncpg.Connection, variable_id: int, resolution: int, settings: Settings
) -> list[float]:
    """Latencies (ms) of the package's rollup query alone (`cell_aggregates`), no HTTP."""
    query = CellQuery(variable_id, resolution, Area(), TimeRange(START, END))
    latencies = []
    for run in range(WARMUPS + API_RUNS):
        began = time.perf_counter()
        await cell_aggregates(
            conn, query, settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
        )
        if run >= WARMUPS:
            latencies.append((time.perf_counter() - began) * 1e3)
    return latencies


async def build_baselines(conn: asyncpg.Connection) -> None:
    """The covering index and the hourly view (kept between runs, like the loaded store)."""
    began = time.perf_counter()
    for statement in (COVERING_INDEX, HOURLY_VIEW, HOURLY_VIEW_INDEX):
        await conn.execute(statement)
    await conn.execute("VACUUM ANALYZE readings, bench_hourly")
    console.print(
        f"baselines (covering index, hourly view) ready in {time.perf_counter() - began:.0f} s"
    )


async def time_sql(
    conn: asyncpg.Connection, sql: str, variable_id: int, resolution: int
) -> tuple[list[float], Answer]:
    """Latencies (ms) of a baseline aggregate after one warm-up, and its answer."""
    latencies = []
    for run in range(1 + RAW_RUNS):
        began = time.perf_counter()
        rows = await conn.fetch(sql, variable_id, START, END, resolution)
        if run:
            latencies.append((time.perf_counter() - began) * 1e3)
    answer = {to_hex(r["cell"]): (r["count"], r["mean"], r["min"], r["max"]) for r in rows}
    return latencies, answer


def check_agreement(resolution: int, expected: set[str], ours: Answer, raw: Answer) -> None:
    """Exit unless both answers hold the expected cells with equal counts, means, extremes."""
    if set(ours) != expected or set(raw) != expected:
        raise SystemExit(
            f"r{resolution}: expected {len(expected)} cells, API {len(ours)}, raw {len(raw)}"
        )
    for cell, (count, mean, low, high) in ours.items():
        raw_count, raw_mean, raw_low, raw_high = raw[cell]
        if (count, low, high) != (raw_count, raw_low, raw_high) or not np.isclose(
            mean, raw_mean, rtol=1e-9, atol=0
        ):
            raise SystemExit(f"r{resolution} cell {cell}: API {ours[cell]} != raw {raw[cell]}")


async def time_stream(client: httpx.AsyncClient) -> dict:
    """Features per second of the month's daily r9 buckets: streamed as NDJSON (one answer
    from a cursor) against the same features fetched as GeoJSON pages following `next`."""
    params = {
        "variable": VARIABLE,
        "resolution": 9,
        "bucket": "1d",
        "start": STAMPS[0].astype(str) + "Z",
        "end": (STAMPS[-1] + CADENCE).astype(str) + "Z",
    }
    streamed, paged, features = [], [], 0
    for _ in range(STREAM_RUNS):
        began = time.perf_counter()
        lines = 0
        async with client.stream("GET", "/cells", params=params | {"format": "ndjson"}) as answer:
            answer.raise_for_status()
            async for _line in answer.aiter_lines():
                lines += 1
        streamed.append(lines / (time.perf_counter() - began))
        began = time.perf_counter()
        count = await paged_cells(client, params)
        paged.append(count / (time.perf_counter() - began))
        if lines != count:
            raise SystemExit(f"NDJSON streamed {lines} features, the pages held {count}")
        features = lines
    return {
        "features": features,
        "ndjson_features_per_s": float(np.median(streamed)),
        "paged_geojson_features_per_s": float(np.median(paged)),
    }


def p(latencies: list[float], q: float) -> float:
    """The q-th percentile."""
    return float(np.percentile(latencies, q))


async def bench() -> tuple[list[tuple], dict]:
    """Load (or reuse) the month, then time /cells and the baselines per resolution."""
    settings = Settings().updated(pg_database="citytwin_bench_cells")
    url = await prepare_store(settings)
    conn = await connect(url)
    try:
        await load(conn, settings)
        await build_baselines(conn)
        variable_id = await conn.fetchval("SELECT id FROM variables WHERE name = $1", VARIABLE)
        sensors, _ = city_sensors()
        rows = []
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c,
        ):
            for resolution in RESOLUTIONS:
                ours, ours_answer = await time_api(c, resolution)
                sql = await time_rollup_sql(conn, variable_id, resolution, settings)
                raw, raw_answer = await time_sql(conn, RAW_SQL, variable_id, resolution)
                view, view_answer = await time_sql(conn, VIEW_SQL, variable_id, resolution)
                expected = expected_cells(sensors, settings.ingest.h3_resolution, resolution)
                check_agreement(resolution, expected, ours_answer, raw_answer)
                check_agreement(resolution, expected, ours_answer, view_answer)
                rows.append((resolution, len(expected), ours, sql, raw, view))
            stream = await time_stream(c)
    finally:
        await conn.close()
    return rows, stream


def report(rows: list[tuple], stream: dict) -> dict:
    """Print the latency table and one summary line per resolution; the figures."""
    table = Table(
        title=f"/cells {VARIABLE} {START:%Y-%m-%d}..{END:%Y-%m-%d}, {EXPECTED_ROWS:,} readings",
        caption="ms; ours = GET /cells (HTTP in-process); SQL = its rollup query alone; raw = "
        "readings with a covering index; view = an hourly materialized view (SQL alone)",
    )
    columns = ("res", "cells", "ours p50", "ours p95", "SQL p50", "raw p50", "view p50")
    for column in (*columns, "raw/ours", "view/ours"):
        table.add_column(column, justify="right")
    figures = {}
    for resolution, cells, ours, sql, raw, view in rows:
        figures[f"r{resolution}"] = {
            "cells": cells,
            "ours_p50_ms": p(ours, 50),
            "ours_p95_ms": p(ours, 95),
            "rollup_sql_p50_ms": p(sql, 50),
            "raw_covering_p50_ms": p(raw, 50),
            "matview_p50_ms": p(view, 50),
            "raw_over_ours": p(raw, 50) / p(ours, 50),
            "matview_over_ours": p(view, 50) / p(ours, 50),
        }
        table.add_row(
            str(resolution),
            str(cells),
            f"{p(ours, 50):.1f}",
            f"{p(ours, 95):.1f}",
            f"{p(sql, 50):.1f}",
            f"{p(raw, 50):.0f}",
            f"{p(view, 50):.1f}",
            f"{p(raw, 50) / p(ours, 50):.1f}x",
            f"{p(view, 50) / p(ours, 50):.1f}x",
        )
    console.print(table)
    console.print(
        f"daily r9 buckets of the month, {stream['features']:,} features: NDJSON streamed "
        f"{stream['ndjson_features_per_s']:,.0f} features/s; GeoJSON pages (baseline) "
        f"{stream['paged_geojson_features_per_s']:,.0f} features/s"
    )
    figures["stream_r9_1d"] = stream
    return figures


def main() -> None:
    """Parse arguments and run the benchmark."""
    args = figures_parser(__doc__).parse_args()
    figures = report(*asyncio.run(bench()))
    print_figures({"cells": figures}, args.json)


if __name__ == "__main__":
    main()
