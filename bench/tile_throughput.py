"""Warm tile throughput with a native HTTP client (wrk).

`bench/tiles.py` measures latency, cold and warm, and compares with tipg and a raw ST_AsMVT,
with a Python client; that client tops out near 900 requests/s, far below what the server
serves warm. Here `wrk` (C, Debian's package) drives the server with 1 and 16 connections over
the z12-z15 pyramid of the same PostGIS database, two worker processes, access logs off, and
tipg (from its own virtualenv, as bench/tiles.py installs it) the same way on the same sensor
tiles with 16 connections. (With one wrk connection every tipg answer waits ~44 ms, with or
without gzip, which its Python-client figures do not show: that pairing is left out.)
"""

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import figures_parser, print_figures
from rich.console import Console
from rich.table import Table
from tiles import (
    DATABASE,
    TIPG_COLLECTION,
    TIPG_TILES,
    WEEK,
    free_port,
    loaded_pyramid,
    tipg_python,
)

from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.settings import PROJECT_ROOT, Settings

CONNECTIONS = (1, 16)
SECONDS = 10
WORKERS = "2"
console = Console()


def wrk_script(paths: list[str]) -> str:
    """A wrk Lua script cycling through `paths`, asking for gzip as browsers do."""
    listed = ",".join(f'"{path}"' for path in paths)
    return (
        f"paths = {{{listed}}}\ni = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i], {['Accept-Encoding'] = 'gzip'})\nend\n"
    )


def run_wrk(base: str, paths: list[str], connections: int) -> dict:
    """tiles/s and latency percentiles of `SECONDS` of wrk over `paths`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(wrk_script(paths))
        script.flush()
        threads = str(min(connections, 2))
        command = ["wrk", "-t", threads, "-c", str(connections), "-d", f"{SECONDS}s"]
        done = subprocess.run(
            [*command, "--latency", "-s", script.name, base],
            capture_output=True,
            text=True,
            check=True,
        )
    text = done.stdout
    if "Non-2xx" in text:
        raise SystemExit(f"wrk saw errors against {base}:\n{text}")

    def latency(percent: str) -> str:
        return re.search(rf"^\s+{percent}%\s+(\S+)", text, re.M).group(1)

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    return {"rate": rate, "p50": latency("50"), "p99": latency("99")}


async def serving(
    command: list[str], env: dict, cwd: Path, ready: str, seconds: float = 60.0
) -> tuple:
    """A server started with `command` on a free port, once `ready` answers (within `seconds`);
    (process, URL)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, then only waited on
        [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", WORKERS],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(int(seconds * 10)):
            try:
                if (await client.get(ready)).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command} did not start")


async def warm(base: str, paths: list[str]) -> None:
    """Every tile asked four times (each worker process keeps its own cache)."""
    async with httpx.AsyncClient(
        base_url=base, timeout=60, headers={"Accept-Encoding": "gzip"}
    ) as c:
        for _ in range(4):
            for path in paths:
                (await c.get(path)).raise_for_status()


async def measure(
    name: str,
    command: list[str],
    env: dict,
    cwd: Path,
    ready: str,
    paths: list[str],
    connections: tuple[int, ...] = CONNECTIONS,
) -> list:
    process, base = await serving(command, env, cwd, ready)
    try:
        await warm(base, paths)
        return [(name, c, run_wrk(base, paths, c)) for c in connections]
    finally:
        process.terminate()
        process.wait(10)


async def bench() -> tuple[list, int]:
    """Warm tile throughput of each server under wrk; the measured rows and the tile count."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `apt-get install wrk` (Debian's package)")
    settings = Settings().updated(pg_database=DATABASE)
    url = await prepare_store(settings)
    conn = await connect(url)
    try:
        _, tiles = await loaded_pyramid(conn, settings)
    finally:
        await conn.close()
    week = urlencode(WEEK)
    ours_cells = [f"/tiles/cells/{t.z}/{t.x}/{t.y}.mvt?{week}" for t in tiles]
    ours_sensors = [f"/tiles/sensors/{t.z}/{t.x}/{t.y}.mvt" for t in tiles]
    ours = [sys.executable, "-m", "uvicorn", "--factory", "citytwin.api.app:create_app"]
    ours.append("--no-access-log")
    env = os.environ | {"CITYTWIN_PG_DATABASE": DATABASE}
    rows = await measure("citytwin /tiles/cells", ours, env, PROJECT_ROOT, "/", ours_cells)
    rows += await measure("citytwin /tiles/sensors", ours, env, PROJECT_ROOT, "/", ours_sensors)
    python = tipg_python(settings.database.state_dir / "bench-tipg")
    if python is not None:
        tipg_env = os.environ | {
            "DATABASE_URL": url,
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": f'["{TIPG_COLLECTION}"]',
        }
        tipg_paths = [TIPG_TILES.format(z=t.z, x=t.x, y=t.y) for t in tiles]
        tipg = [str(python), "-m", "uvicorn", "tipg.main:app", "--no-access-log"]
        rows += await measure(
            "tipg sensors",
            tipg,
            tipg_env,
            settings.database.state_dir,
            "/healthz",
            tipg_paths,
            (16,),
        )
    return rows, len(tiles)


def report(rows: list, tiles: int) -> dict:
    """Print the table and the targets; the figures."""
    table = Table(
        title=f"Warm tiles, {tiles}-tile pyramid z12-z15, wrk {SECONDS} s, 2 workers each"
    )
    for column in ("server", "connections", "tiles/s", "p50", "p99"):
        table.add_column(column, justify="right")
    for name, connections, result in rows:
        table.add_row(
            name, str(connections), f"{result['rate']:,.0f}", result["p50"], result["p99"]
        )
    console.print(table)
    rates = {(name, c): r["rate"] for name, c, r in rows}
    warm16 = rates[("citytwin /tiles/cells", 16)]
    console.print(f"warm cells, 16 connections: {warm16:,.0f} tiles/s (target > 5,000)")
    if ("tipg sensors", 16) in rates:
        ratio = rates[("citytwin /tiles/sensors", 16)] / rates[("tipg sensors", 16)]
        console.print(f"sensors vs tipg, 16 connections: {ratio:.0f}x (target >= 2x)")
    return {f"{name}/{c}": {"tiles_per_s": r["rate"]} for name, c, r in rows}


if __name__ == "__main__":
    args = figures_parser(__doc__).parse_args()
    print_figures({"tile_throughput": report(*asyncio.run(bench()))}, args.json)
