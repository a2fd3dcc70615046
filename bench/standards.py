"""SensorThings and NGSI-LD reads on the 10M-reading store, each beside the same question asked
of the readings directly, as a server keeping only an observations table would (FROST's data
model): one Datastream's month, the latest Observation of every Datastream in a bbox, and a
week of hourly averages for 100 entities (NGSI-LD temporal `aggrMethods=avg`, which citytwin
answers from its per-sensor hourly rollups; their rows read in SQL alone are shown too)."""

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import numpy as np
from cells import EXPECTED_ROWS, load
from rich.console import Console
from rich.table import Table

from citytwin.api.app import create_app
from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.settings import Settings

MONTH = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
WEEK = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
BBOX = (9.47, 47.10, 9.515, 47.15)  # a quarter of the sensors' extent
ENTITIES = 100
WARMUPS, RUNS, SCAN_RUNS = 3, 30, 5  # a scan of millions of readings is timed fewer times

# The naive answers: readings scanned (through their primary key where it helps) per question.
RAW_MONTH = """SELECT time, value FROM readings
WHERE sensor_id = $1 AND variable_id = $2 AND time >= $3 AND time < $4 ORDER BY time"""
RAW_LATEST = """SELECT DISTINCT ON (r.sensor_id, r.variable_id) r.sensor_id, r.variable_id,
       r.time, r.value
FROM readings r JOIN sensors s ON s.id = r.sensor_id
WHERE ST_Within(s.geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))
ORDER BY r.sensor_id, r.variable_id, r.time DESC"""
# The strongest plain-SQL answer: each series' newest reading through the primary key.
INDEXED_LATEST = """SELECT l.sensor_id, l.variable_id, x.time, x.value
FROM sensors s JOIN latest_readings l ON l.sensor_id = s.id
CROSS JOIN LATERAL (SELECT r.time, r.value FROM readings r
    WHERE r.sensor_id = l.sensor_id AND r.variable_id = l.variable_id
    ORDER BY r.time DESC LIMIT 1) x
WHERE ST_Within(s.geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))"""
RAW_HOURLY = """SELECT sensor_id, date_trunc('hour', time) AS hour, avg(value) AS avg
FROM readings WHERE sensor_id = ANY($1::int4[]) AND variable_id = $2
  AND time >= $3 AND time < $4 AND NOT flagged
GROUP BY 1, 2 ORDER BY 1, 2"""
# The same from the sensors' hourly rollups (migration 012), in SQL alone: what ours adds to it
# is HTTP and the NGSI-LD documents.
HOURS_HOURLY = """SELECT sensor_id, hour, sum / count AS avg FROM sensor_hours
WHERE sensor_id = ANY($1::int4[]) AND variable_id = $2 AND hour >= $3 AND hour < $4
  AND NOT flagged ORDER BY 1, 2"""

console = Console()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def timed(
    ask: Callable[[], Awaitable[object]], runs: int = RUNS, warmups: int = WARMUPS
) -> tuple[list[float], object]:
    """Latencies (ms) after warm-ups, and the last answer."""
    latencies = []
    for run in range(warmups + runs):
        began = time.perf_counter()
        answer = await ask()
        if run >= warmups:
            latencies.append((time.perf_counter() - began) * 1e3)
    return latencies, answer


def ok(response: httpx.Response) -> object:
    response.raise_for_status()
    return response.json()


def p(latencies: list[float], q: float) -> float:
    return float(np.percentile(latencies, q))


async def bench() -> dict:
    settings = Settings().updated(pg_database="citytwin_bench_cells")
    url = await prepare_store(settings)
    conn = await connect(url)
    results = {}
    try:
        await load(conn, settings)
        no2 = await conn.fetchval("SELECT id FROM variables WHERE name = 'no2'")
        first = await conn.fetchval("SELECT min(id) FROM sensors")
        hundred = [
            r[0] for r in await conn.fetch("SELECT id FROM sensors ORDER BY id LIMIT $1", ENTITIES)
        ]
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as api,
        ):
            # 1. One Datastream's Observations over a month.
            datastream = first * 1000 + no2
            month = {
                "$filter": f"phenomenonTime ge {iso(MONTH[0])} and "
                f"phenomenonTime lt {iso(MONTH[1])}",
                "$top": "5000",
                "$select": "phenomenonTime,result",
            }
            path = f"/v1.1/Datastreams({datastream})/Observations"
            ours, answer = await timed(lambda: api.get(path, params=month))
            ours_rows = [(o["phenomenonTime"], o["result"]) for o in ok(answer)["value"]]
            raw, rows = await timed(lambda: conn.fetch(RAW_MONTH, first, no2, *MONTH))
            assert ours_rows == [(iso(r["time"]), r["value"]) for r in rows], "month differs"
            results["month"] = (ours, len(rows), {"readings by primary key (SQL)": raw})

            # 2. The latest Observation of every Datastream in a bbox.
            west, south, east, north = BBOX
            ring = f"{west} {south},{east} {south},{east} {north},{west} {north},{west} {south}"
            box = f"POLYGON(({ring}))"
            latest = {
                "$filter": f"st_within(observedArea, geography'{box}')",
                "$expand": "Observations($top=1;$orderby=phenomenonTime desc)",
                "$select": "id,Observations",
                "$top": "10000",
            }
            ours, answer = await timed(lambda: api.get("/v1.1/Datastreams", params=latest))
            streams = ok(answer)["value"]
            ours_latest = {s["@iot.id"]: s["Observations"][0]["result"] for s in streams}
            raw, rows = await timed(lambda: conn.fetch(RAW_LATEST, *BBOX), SCAN_RUNS, 1)
            raw_latest = {r["sensor_id"] * 1000 + r["variable_id"]: r["value"] for r in rows}
            assert ours_latest == raw_latest, "latest differs"
            indexed, rows = await timed(lambda: conn.fetch(INDEXED_LATEST, *BBOX))
            assert {
                r["sensor_id"] * 1000 + r["variable_id"]: r["value"] for r in rows
            } == raw_latest
            results["latest_bbox"] = (
                ours,
                len(rows),
                {"scan of readings (SQL)": raw, "newest per series by index (SQL)": indexed},
            )

            # 3. Hourly no2 averages over a week for 100 entities (NGSI-LD temporal).
            ids = [
                r[0]
                for r in await conn.fetch(
                    "SELECT external_id FROM sensors WHERE id = ANY($1::int4[]) ORDER BY id",
                    hundred,
                )
            ]
            temporal = {
                "id": ",".join(f"urn:ngsi-ld:AirQualityObserved:{i}" for i in ids),
                "attrs": "no2",
                "timerel": "between",
                "timeAt": iso(WEEK[0]),
                "endTimeAt": iso(WEEK[1]),
                "aggrMethods": "avg",
                "aggrPeriodDuration": "PT1H",
                "limit": str(ENTITIES),
            }
            ours, answer = await timed(
                lambda: api.get("/ngsi-ld/v1/temporal/entities", params=temporal)
            )
            entities = ok(answer)
            ours_avg = [v[0] for e in entities for v in e["no2"]["avg"]]
            raw, rows = await timed(lambda: conn.fetch(RAW_HOURLY, hundred, no2, *WEEK))
            assert len(entities) == ENTITIES, len(entities)
            assert np.allclose(ours_avg, [r["avg"] for r in rows], rtol=1e-9), "averages differ"
            hours, rolled = await timed(lambda: conn.fetch(HOURS_HOURLY, hundred, no2, *WEEK))
            assert np.allclose(ours_avg, [r["avg"] for r in rolled], rtol=1e-9), "hours differ"
            results["hourly_week_100"] = (
                ours,
                len(rows),
                {
                    "readings by primary key, GROUP BY hour (SQL)": raw,
                    "sensor hours rows (SQL)": hours,
                },
            )
    finally:
        await conn.close()
    return results


def report(results: dict) -> dict:
    """Print the table; the figures for --json."""
    table = Table(
        title=f"SensorThings / NGSI-LD reads, {EXPECTED_ROWS:,} readings",
        caption="ms; ours over HTTP (in process), baselines in SQL without HTTP; targets: "
        "month p95 < 50, latest in bbox p95 < 100, hourly week p95 < 100",
    )
    for column in ("question", "rows", "ours p50", "ours p95", "baseline", "p50", "p95"):
        table.add_column(column, justify="right")
    figures = {}
    for name, (ours, rows, baselines) in results.items():
        figures[name] = {
            "rows": rows,
            "ours_p50_ms": round(p(ours, 50), 2),
            "ours_p95_ms": round(p(ours, 95), 2),
        }
        for number, (baseline, latencies) in enumerate(baselines.items()):
            first = number == 0
            table.add_row(
                name if first else "",
                f"{rows:,}" if first else "",
                f"{p(ours, 50):.1f}" if first else "",
                f"{p(ours, 95):.1f}" if first else "",
                baseline,
                f"{p(latencies, 50):.1f}",
                f"{p(latencies, 95):.1f}",
            )
            figures[name][baseline] = {
                "p50_ms": round(p(latencies, 50), 2),
                "p95_ms": round(p(latencies, 95), 2),
            }
    console.print(table)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    arguments = parser.parse_args()
    figures = report(asyncio.run(bench()))
    if arguments.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
