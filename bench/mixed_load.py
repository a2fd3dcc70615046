"""Mixed reads under a large ingest: 50 clients read `/cells`, `/readings`, cell tiles and
`/sensors` from a live server while one client posts a 1M-row CSV to `/feeds/air/readings`.

The baseline is the same clients on the same server and store in the same run with no ingest
going on (the idle service); each endpoint's p50, p95 and error count are shown for both, with
the ratio of the p95s. An error is any answer but 200, or no answer within 30 s.
"""

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import morecantile
import numpy as np
from common import canonical_csv, empty_store, figures_parser, place_sensors, print_figures
from rich.console import Console
from rich.table import Table
from tile_throughput import serving

from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.feeds import load_feeds
from citytwin.services.ingest import ingest
from citytwin.settings import PROJECT_ROOT, Settings

DATABASE = "citytwin_bench_mixed"
KEY = "bench-mixed-key"
SENSORS = 250
BOUNDS = (9.50, 47.12, 9.54, 47.16)  # Vaduz
START = np.datetime64("2026-01-01T00:00:00")
BASE_HOURS = 100  # readings already stored (100,000) before either phase
DAY = "start=2026-01-02T00:00:00Z&end=2026-01-03T00:00:00Z"
TILE = morecantile.tms.get("WebMercatorQuad").tile(9.52, 47.14, 14)
TIMEOUT = 30.0
READS = {
    "/cells": f"/cells?variable=no2&resolution=8&{DAY}",
    "/readings": f"/readings?variable=no2&bbox=9.51,47.13,9.53,47.15&limit=100&{DAY}",
    "tiles": f"/tiles/cells/{TILE.z}/{TILE.x}/{TILE.y}.mvt?variable=no2&{DAY}",
    "/sensors": "/sensors?feed=air&limit=100",
}
console = Console(width=None if sys.stdout.isatty() else 150)  # a whole row on a pipe too


def air_csv(first_hour: int, rows: int, seed: int) -> bytes:
    """`rows` canonical air readings of the fixed sensors from `first_hour` after START on."""
    rng = np.random.default_rng(seed)
    sensors = place_sensors(SENSORS, BOUNDS, np.random.default_rng(20260101))
    hours = -(-rows // (SENSORS * 4))
    stamps = START + (first_hour + np.arange(hours)) * np.timedelta64(1, "h")
    return canonical_csv(sensors, stamps, rng, rows)


@dataclass
class Samples:
    """Latencies (s) of the answered requests of one endpoint, and its errors by kind (the
    status, or `timeout`/`failed` when no answer came)."""

    seconds: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    def figures(self) -> dict:
        ms = np.array(self.seconds) * 1000
        return {
            "requests": len(self.seconds) + self.errors,
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
            "errors": self.errors,
            "errors_by_kind": dict(self.failures),
        }


async def reader(
    client: httpx.AsyncClient, offset: int, until: Callable[[], bool], into: dict
) -> None:
    """Ask the reads in turn (starting at `offset`) until `until()` says stop."""
    names = list(READS)
    turn = offset
    while not until():
        name = names[turn % len(names)]
        turn += 1
        began = time.perf_counter()
        try:
            answer = await client.get(READS[name])
            failure = None if answer.status_code == 200 else str(answer.status_code)
        except httpx.TimeoutException:
            failure = "timeout"
        except httpx.HTTPError:
            failure = "failed"
        if failure is None:
            into[name].seconds.append(time.perf_counter() - began)
        else:
            into[name].failures[failure] += 1


async def phase(base: str, clients: int, until: Callable[[], bool]) -> dict[str, Samples]:
    """`clients` readers on `base` until `until()`; the samples per endpoint."""
    samples = {name: Samples() for name in READS}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT, limits=limits) as client:
        await asyncio.gather(*(reader(client, i, until, samples) for i in range(clients)))
    return samples


async def post_ingest(base: str, body: bytes) -> tuple[float, dict]:
    """Seconds taken by the ingest of `body` through the API, and its answer."""
    headers = {"X-API-Key": KEY, "Content-Type": "text/csv"}
    async with httpx.AsyncClient(base_url=base, timeout=3600) as client:
        began = time.perf_counter()
        answer = await client.post("/feeds/air/readings", content=body, headers=headers)
        took = time.perf_counter() - began
    if answer.status_code != 200 or answer.json()["rejected_total"]:
        raise SystemExit(f"the ingest failed: {answer.status_code} {answer.text[:500]}")
    return took, answer.json()


async def bench(rows: int, clients: int, seconds: float) -> dict:
    settings = Settings().updated(pg_database=DATABASE)
    url = await prepare_store(settings)
    conn = await connect(url)
    try:
        await empty_store(conn)
        feeds = load_feeds(settings.ingest.feeds_dir)
        base_rows = BASE_HOURS * SENSORS * 4
        await ingest(
            conn,
            feeds["air"],
            air_csv(0, base_rows, 1),
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
        )
    finally:
        await conn.close()
    body = air_csv(BASE_HOURS, rows, 2)  # made before either phase, off the clock
    command = [sys.executable, "-m", "uvicorn", "--factory", "citytwin.api.app:create_app"]
    command.append("--no-access-log")
    env = os.environ | {
        "CITYTWIN_PG_DATABASE": DATABASE,
        "CITYTWIN_API_KEYS": KEY,
        "CITYTWIN_WRITES_PER_MINUTE": "0",
        "CITYTWIN_ACCEPT_PAST_DAYS": "36600",
    }
    process, base = await serving(command, env, PROJECT_ROOT, "/sensors", 600)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as client:
            for path in READS.values():  # every read answers before the clock runs
                (await client.get(path)).raise_for_status()
        stop_idle = time.monotonic() + seconds
        idle = await phase(base, clients, lambda: time.monotonic() > stop_idle)
        upload = asyncio.create_task(post_ingest(base, body))
        busy = await phase(base, clients, upload.done)
        ingest_seconds, answer = await upload
    finally:
        process.terminate()
        process.wait(30)
    return {
        "clients": clients,
        "rows": rows,
        "loaded": answer["loaded"],
        "ingest_seconds": round(ingest_seconds, 1),
        "idle_seconds": seconds,
        "endpoints": {
            name: {"idle": idle[name].figures(), "ingesting": busy[name].figures()}
            for name in READS
        },
    }


def report_table(figures: dict) -> None:
    table = Table(
        title=f"{figures['clients']} clients reading; ingest of {figures['rows']:,} rows "
        f"through the API took {figures['ingest_seconds']} s (baseline: the idle service, "
        f"{figures['idle_seconds']} s)"
    )
    for column in ("endpoint", "idle n", "idle p50", "idle p95", "idle errors"):
        table.add_column(column, justify="right")
    for column in ("ingest n", "ingest p50", "ingest p95", "ingest errors", "p95 ×"):
        table.add_column(column, justify="right")
    for name, both in figures["endpoints"].items():
        idle, busy = both["idle"], both["ingesting"]
        ratio = (
            f"{busy['p95_ms'] / idle['p95_ms']:.1f}" if idle["p95_ms"] and busy["p95_ms"] else "-"
        )
        table.add_row(
            name,
            str(idle["requests"]),
            f"{idle['p50_ms']} ms",
            f"{idle['p95_ms']} ms",
            str(idle["errors"]),
            str(busy["requests"]),
            f"{busy['p50_ms']} ms",
            f"{busy['p95_ms']} ms",
            ", ".join(f"{n} × {kind}" for kind, n in busy["errors_by_kind"].items()) or "0",
            ratio,
        )
    console.print(table)


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = figures_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="readings ingested")
    parser.add_argument("--clients", type=int, default=50, help="concurrent readers")
    parser.add_argument("--seconds", type=float, default=20.0, help="of the idle baseline")
    args = parser.parse_args()
    figures = asyncio.run(bench(args.rows, args.clients, args.seconds))
    report_table(figures)
    print_figures({"mixed_load": figures}, args.json)


if __name__ == "__main__":
    main()
