"""`/tiles` benchmark: cells and sensors MVT (cold, warm, 304) against raw ST_AsMVT and tipg."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

import asyncpg
import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
from cells import END, SENSORS, START, VARIABLE, city_sensors, expected_cells, load
from common import figures_parser, print_figures
from rich.console import Console
from rich.table import Table
from shapely.geometry import box

from citytwin.cli import prepare_store
from citytwin.db.pool import connect, create_pool
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.db.queries.tiles import (
    BUFFER,
    EXTENT,
    cells_tile,
    data_version,
    sensors_tile,
    sensors_version,
)
from citytwin.query.cells import grow_by_cells, hexagon_wkb, to_hex
from citytwin.query.params import Area, TimeRange, widen_to_buckets
from citytwin.settings import PROJECT_ROOT, Settings
from citytwin.tiles.tile_matrix import Tile, resolution_for_zoom
from citytwin.tiles.versions import VERSION_RESOLUTION

DATABASE = "citytwin_bench_cells"
TMS = morecantile.tms.get("WebMercatorQuad")
ZOOMS = (12, 13, 14, 15)
TARGET_ZOOM = 14  # the zoom of the cold latency target
CLIENTS = 16
COLD_SERVERS = 3  # cold single-client passes, each on a fresh server (empty tile cache)
WARM_ROUNDS = 10  # passes over the pyramid per warm and 304 measurement
TIPG_ROUNDS = 3  # timed tipg passes per concurrency, after one untimed pass
REQUEST_TIMEOUT = 60.0
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900
WEEK = {
    "variable": VARIABLE,
    "start": START.isoformat().replace("+00:00", "Z"),
    "end": END.isoformat().replace("+00:00", "Z"),
}
TIPG_COLLECTION = "public.sensors"
TIPG_TILE_PATH = "/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}"
TIPG_TILES = f"/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"

# Baseline A: the same week of no2 aggregated per sensor straight from the raw readings.
RAW_MVT = f"""
SELECT ST_AsMVT(t, 'sensors', {EXTENT}, 'geom') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), ST_TileEnvelope($1, $2, $3),
                        {EXTENT}, {BUFFER}, true) AS geom,
           s.id, count(*) AS count, avg(r.value) AS mean, min(r.value) AS min, max(r.value) AS max
    FROM readings r JOIN sensors s ON s.id = r.sensor_id
    WHERE s.geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => {BUFFER / EXTENT}), 4326)
      AND r.variable_id = $4 AND r.time >= $5 AND r.time < $6 AND NOT r.flagged
    GROUP BY s.id, s.geom
) t WHERE t.geom IS NOT NULL"""

CPU = ("CPU client", "CPU server", "CPU pg")
console = Console(width=170)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` so far (Linux /proc); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Probe:
    """CPU of the client (this process), a server process and the database's backends."""

    conn: asyncpg.Connection
    server_pid: int | None = None

    async def sample(self) -> np.ndarray:
        """CPU seconds so far of client, server and PostgreSQL backends."""
        pids = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        server = 0.0 if self.server_pid is None else cpu_seconds(self.server_pid)
        return np.array([time.process_time(), server, sum(cpu_seconds(r["pid"]) for r in pids)])


@dataclass(frozen=True)
class Measure:
    """Latencies (ms) and zoom per request, wall seconds, CPU seconds (client, server, pg)."""

    zooms: np.ndarray
    ms: np.ndarray
    seconds: float
    cpu: np.ndarray

    @classmethod
    def merge(cls, parts: Sequence["Measure"]) -> "Measure":
        """The passes of `parts` as one measurement."""
        return cls(
            np.concatenate([m.zooms for m in parts]),
            np.concatenate([m.ms for m in parts]),
            sum(m.seconds for m in parts),
            sum(m.cpu for m in parts),
        )

    @property
    def rate(self) -> float:
        """Tiles per second over the passes."""
        return len(self.ms) / self.seconds

    def at(self, zoom: int) -> np.ndarray:
        """The latencies of the requests at `zoom`."""
        return self.ms[self.zooms == zoom]

    def pct(self, q: float, zoom: int | None = None) -> float:
        """The q-th percentile latency, of every request or of those at `zoom`."""
        return float(np.percentile(self.ms if zoom is None else self.at(zoom), q))


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    system: str
    layer: str
    cache: str
    clients: int
    measure: Measure


async def timed(
    tiles: Sequence[morecantile.Tile],
    fetch: Callable[[morecantile.Tile], Awaitable[None]],
    clients: int,
    probe: Probe,
    rounds: int = 1,
) -> Measure:
    """Each tile `rounds` times through `fetch`, at most `clients` at once."""
    gate = asyncio.Semaphore(clients)
    zooms: list[int] = []
    ms: list[float] = []

    async def one(tile: morecantile.Tile) -> None:
        """Fetch `tile` once a slot is free, timing it."""
        async with gate:
            began = time.perf_counter()
            await fetch(tile)
            ms.append((time.perf_counter() - began) * 1e3)
            zooms.append(tile.z)

    cpu = await probe.sample()
    began = time.perf_counter()
    await asyncio.gather(*(one(tile) for _ in range(rounds) for tile in tiles))
    seconds = time.perf_counter() - began
    return Measure(np.array(zooms), np.array(ms), seconds, await probe.sample() - cpu)


@dataclass
class TileLayer:
    """One layer's tile URLs over the pyramid, with the first body and ETag served for each."""

    name: str
    urls: dict[morecantile.Tile, str]
    bodies: dict[morecantile.Tile, bytes] = field(default_factory=dict)
    etags: dict[morecantile.Tile, str | None] = field(default_factory=dict)

    @classmethod
    def over(
        cls, name: str, tiles: Sequence[morecantile.Tile], template: str, query: dict[str, str]
    ) -> "TileLayer":
        """`template` ({z}/{x}/{y}) with `query` for every tile."""
        suffix = f"?{urlencode(query)}" if query else ""
        return cls(name, {t: template.format(z=t.z, x=t.x, y=t.y) + suffix for t in tiles})

    async def get(self, client: httpx.AsyncClient, tile: morecantile.Tile) -> None:
        """GET the tile: it must succeed and keep the ETag it was first served with."""
        response = await client.get(self.urls[tile])
        if response.status_code not in (200, 204):
            raise SystemExit(f"{self.name} {tile}: HTTP {response.status_code} {response.text}")
        etag = response.headers.get("etag")
        if self.etags.setdefault(tile, etag) != etag:
            raise SystemExit(f"{self.name} {tile}: ETag {etag} after {self.etags[tile]}")
        self.bodies.setdefault(tile, response.content)

    async def revalidate(self, client: httpx.AsyncClient, tile: morecantile.Tile) -> None:
        """GET the tile with its ETag in If-None-Match: it must answer 304."""
        response = await client.get(self.urls[tile], headers={"If-None-Match": self.etags[tile]})
        if response.status_code != 304:
            raise SystemExit(f"{self.name} {tile}: If-None-Match answered {response.status_code}")


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(
    name: str, command: list[str], env: dict[str, str], cwd: Path, ready: str
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """Run uvicorn `command` on a free loopback port for the block (killed even on error)."""
    port = free_port()
    options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            *options,
            "--no-access-log",
            env=os.environ | env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                timeout=REQUEST_TIMEOUT,
                limits=httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS),
            ) as client:
                await wait_ready(name, process, client, ready, log)
                yield client, process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def wait_ready(
    name: str,
    process: asyncio.subprocess.Process,
    client: httpx.AsyncClient,
    ready: str,
    log: BinaryIO,
) -> None:
    """Wait (bounded) until GET `ready` answers 200; exit with the server's log if it never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.returncode is None:
        try:
            if (await client.get(ready)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    log.seek(0)
    tail = log.read().decode(errors="replace")[-3000:]
    raise SystemExit(f"{name} did not start (exit code {process.returncode}):\n{tail}")


def serve_ours() -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """A fresh citytwin server, under uvicorn with `CITYTWIN_PG_DATABASE` set."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "citytwin.api.app:create_app"]
    return serve("citytwin", command, {"CITYTWIN_PG_DATABASE": DATABASE}, PROJECT_ROOT, "/")


def tipg_python(env_dir: Path) -> Path | None:
    """The interpreter of a separate tipg virtualenv, created on first use; None if it cannot be."""
    python = env_dir / "bin" / "python"
    check = [str(python), "-c", "import tipg, uvicorn"]
    if python.exists() and subprocess.run(check, capture_output=True, timeout=60).returncode == 0:
        return python
    console.print(f"installing tipg and uvicorn into {env_dir}")
    try:
        venv = [sys.executable, "-m", "venv", str(env_dir)]
        subprocess.run(venv, check=True, capture_output=True, timeout=120)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "tipg", "uvicorn"],
            check=True,
            capture_output=True,
            timeout=INSTALL_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        console.print(f"tipg could not be installed, its rows are skipped: {exc}")
        console.print(detail.decode(errors="replace")[-2000:])
        return None
    return python


async def backfill_tile_versions(conn: asyncpg.Connection) -> None:
    """Fill an empty tile_versions (store loaded before migration 003) as a load would."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tile_versions)"):
        return
    written = await conn.execute(
        """INSERT INTO tile_versions (variable_id, day, cell, version)
           SELECT k.variable_id, k.day, k.cell, nextval('tile_version_seq')
           FROM (SELECT DISTINCT variable_id, day, h3_parent(cell, $1) AS cell
                 FROM cell_rollups) k""",
        VERSION_RESOLUTION,
    )
    await conn.execute("ANALYZE tile_versions")
    console.print(f"tile_versions was empty (store loaded before migration 003): {written}")


async def pyramid(conn: asyncpg.Connection) -> list[morecantile.Tile]:
    """Every tile of ZOOMS intersecting the sensors' bounding box."""
    west, south, east, north = await conn.fetchrow(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) AS e FROM sensors) t"
    )
    return list(TMS.tiles(west, south, east, north, zooms=list(ZOOMS)))


async def landing(client: httpx.AsyncClient, _: morecantile.Tile) -> None:
    """GET / (no database): the HTTP floor of the server and client."""
    (await client.get("/")).raise_for_status()


async def bench_ours(
    conn: asyncpg.Connection, layer: TileLayer, tiles: list[morecantile.Tile]
) -> list[Row]:
    """Cold passes on fresh servers, then warm and 304 passes once the tile cache is full."""
    cold = []
    for _ in range(COLD_SERVERS):
        async with serve_ours() as (client, pid):
            cold.append(await timed(tiles, partial(layer.get, client), 1, Probe(conn, pid)))
    rows = [Row("ours", layer.name, "cold", 1, Measure.merge(cold))]
    async with serve_ours() as (client, pid):
        probe = Probe(conn, pid)
        get, revalidate = partial(layer.get, client), partial(layer.revalidate, client)
        measure = await timed(tiles, get, CLIENTS, probe)
        rows.append(Row("ours", layer.name, "cold", CLIENTS, measure))
        for cache, fetch in (("warm", get), ("304", revalidate)):
            for clients in (1, CLIENTS):
                measure = await timed(tiles, fetch, clients, probe, WARM_ROUNDS)
                rows.append(Row("ours", layer.name, cache, clients, measure))
        if layer.name == "cells":
            for clients in (1, CLIENTS):
                measure = await timed(tiles, partial(landing, client), clients, probe, WARM_ROUNDS)
                rows.append(Row("ours", "GET / (HTTP floor)", "-", clients, measure))
    return rows


async def bench_raw(
    conn: asyncpg.Connection, url: str, variable_id: int, tiles: list[morecantile.Tile]
) -> tuple[list[Row], dict[morecantile.Tile, bytes]]:
    """Baseline A through an asyncpg pool of 16, after one untimed pass over the top zoom."""
    bodies: dict[morecantile.Tile, bytes] = {}
    pool = await create_pool(url, CLIENTS, CLIENTS)
    try:

        async def fetch(tile: morecantile.Tile) -> None:
            """The baseline's tile, on a pooled connection."""
            async with pool.acquire() as conn:
                bodies[tile] = await conn.fetchval(
                    RAW_MVT, tile.z, tile.x, tile.y, variable_id, START, END
                )

        probe = Probe(conn)
        await timed([t for t in tiles if t.z == ZOOMS[0]], fetch, CLIENTS, probe)
        rows = [
            Row("raw ST_AsMVT", "no2 per sensor", "-", c, await timed(tiles, fetch, c, probe))
            for c in (1, CLIENTS)
        ]
    finally:
        await pool.close()
    return rows, bodies


async def bench_tipg(
    conn: asyncpg.Connection, url: str, env_dir: Path, tiles: list[morecantile.Tile]
) -> tuple[list[Row], TileLayer | None]:
    """tipg serving `public.sensors` from a separate virtualenv; no rows if it cannot run."""
    python = tipg_python(env_dir)
    if python is None:
        return [], None
    env = {
        "DATABASE_URL": url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": f'["{TIPG_COLLECTION}"]',
    }
    command = [str(python), "-m", "uvicorn", "tipg.main:app"]
    async with serve("tipg", command, env, env_dir, "/healthz") as (client, pid):
        paths = (await client.get("/api")).raise_for_status().json()["paths"]
        collections = (await client.get("/collections")).raise_for_status().json()
        found = [c["id"] for c in collections["collections"]]
        if TIPG_TILE_PATH not in paths or TIPG_COLLECTION not in found:
            raise SystemExit(f"tipg: no {TIPG_TILE_PATH} for {TIPG_COLLECTION} (has {found})")
        layer = TileLayer.over("tipg sensors", tiles, TIPG_TILES, {})
        get, probe = partial(layer.get, client), Probe(conn, pid)
        await timed(tiles, get, 1, probe)
        rows = [
            Row("tipg", "sensors", "-", c, await timed(tiles, get, c, probe, TIPG_ROUNDS))
            for c in (1, CLIENTS)
        ]
    return rows, layer


async def breakdown(
    conn: asyncpg.Connection, settings: Settings, variable_id: int, tiles: list[morecantile.Tile]
) -> dict[str, list[float]]:
    """Milliseconds per step of the routes' cold tiles at TARGET_ZOOM, on one connection."""
    base, seconds = settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
    week = widen_to_buckets(TimeRange(START, END), seconds)
    steps: dict[str, list[float]] = {
        "cells: data_version": [],
        "cells: cell_aggregates": [],
        "cells: hexagons (Python)": [],
        "cells: cells_tile (ST_AsMVT)": [],
        "sensors: sensors_version": [],
        "sensors: sensors_tile": [],
    }
    for t in (t for t in tiles if t.z == TARGET_ZOOM):
        tile = Tile(t.z, t.x, t.y)
        shown = resolution_for_zoom(t.z, base)
        bounds = grow_by_cells(tile.bounds, shown)
        marks = [time.perf_counter()]
        await data_version(conn, bounds, variable_id, week.start, week.end)
        marks.append(time.perf_counter())
        query = CellQuery(variable_id, shown, Area(geometry=box(*bounds)), week)
        rows = await cell_aggregates(conn, query, base, seconds)
        marks.append(time.perf_counter())
        hexagons = [hexagon_wkb(r["cell"]) for r in rows]
        properties = [dict(r) | {"h3": to_hex(r["cell"])} for r in rows]
        marks.append(time.perf_counter())
        await cells_tile(conn, tile, hexagons, properties)
        marks.append(time.perf_counter())
        await sensors_version(conn, tile)
        marks.append(time.perf_counter())
        await sensors_tile(conn, tile)
        marks.append(time.perf_counter())
        for name, began, ended in zip(steps, marks, marks[1:], strict=False):
            steps[name].append((ended - began) * 1e3)
    return steps


def properties(body: bytes) -> list[dict]:
    """The properties of every feature of an MVT, each with its feature id as `_fid`."""
    return [
        f["properties"] | {"_fid": f.get("id")}
        for layer in mapbox_vector_tile.decode(body).values()
        for f in layer["features"]
    ]


def at_zoom(bodies: dict[morecantile.Tile, bytes], zoom: int) -> list[dict]:
    """The features' properties of every tile at `zoom`."""
    return [f for tile, body in bodies.items() if tile.z == zoom for f in properties(body)]


def check_cells(cells: TileLayer, raw: dict[morecantile.Tile, bytes], base: int) -> None:
    """Exit unless each zoom shows the sensors' cells, consistently, with the raw readings."""
    sensors, _ = city_sensors()
    for zoom in ZOOMS:
        counts: dict[str, int] = {}
        for f in at_zoom(cells.bodies, zoom):
            cell, count = f["h3"], f["count"]
            if counts.setdefault(cell, count) != count:
                raise SystemExit(f"cells z{zoom} {cell}: count {count} and {counts[cell]}")
        expected = expected_cells(sensors, base, resolution_for_zoom(zoom, base))
        if set(counts) != expected:
            raise SystemExit(f"cells z{zoom}: {len(counts)} cells, expected {len(expected)}")
        per_sensor = {f["id"]: f["count"] for f in at_zoom(raw, zoom)}
        if len(per_sensor) != SENSORS or sum(per_sensor.values()) != sum(counts.values()):
            raise SystemExit(
                f"z{zoom}: raw {len(per_sensor)} sensors {sum(per_sensor.values())} readings, "
                f"cells {sum(counts.values())} readings"
            )


def check_sensors(layer: TileLayer) -> None:
    """Exit unless, at each zoom, the tiles together hold every sensor."""
    for zoom in ZOOMS:
        ids = {f.get("id", f["_fid"]) for f in at_zoom(layer.bodies, zoom)}
        if len(ids) != SENSORS:
            raise SystemExit(f"{layer.name} z{zoom}: {len(ids)} sensors, expected {SENSORS}")


async def loaded_pyramid(
    conn: asyncpg.Connection, settings: Settings
) -> tuple[int, list[morecantile.Tile]]:
    """Load (or reuse) the month; the benchmarked variable's id and the tile pyramid."""
    await load(conn, settings)
    await backfill_tile_versions(conn)
    variable_id = await conn.fetchval("SELECT id FROM variables WHERE name = $1", VARIABLE)
    return variable_id, await pyramid(conn)


async def bench() -> dict:
    """Load (or reuse) the month, then time every system over the pyramid; the figures."""
    settings = Settings().updated(pg_database=DATABASE)
    url = await prepare_store(settings)
    conn = await connect(url)
    try:
        variable_id, tiles = await loaded_pyramid(conn, settings)
        console.print(
            f"pyramid: {len(tiles)} tiles "
            + ", ".join(f"z{z} {sum(t.z == z for t in tiles)}" for z in ZOOMS)
        )
        cells = TileLayer.over("cells", tiles, "/tiles/cells/{z}/{x}/{y}.mvt", WEEK)
        sensors = TileLayer.over("sensors", tiles, "/tiles/sensors/{z}/{x}/{y}.mvt", {})
        rows = await bench_ours(conn, cells, tiles) + await bench_ours(conn, sensors, tiles)
        raw_rows, raw_bodies = await bench_raw(conn, url, variable_id, tiles)
        tipg_env = settings.database.state_dir / "bench-tipg"
        tipg_rows, tipg = await bench_tipg(conn, url, tipg_env, tiles)
        steps = await breakdown(conn, settings, variable_id, tiles)
    finally:
        await conn.close()
    check_cells(cells, raw_bodies, settings.ingest.h3_resolution)
    for layer in (sensors, tipg):
        if layer is not None:
            check_sensors(layer)
    return report(rows + raw_rows + tipg_rows, steps, tipg is not None)


def find(rows: list[Row], system: str, layer: str, cache: str, clients: int) -> Measure:
    """The measurement of one configuration."""
    return next(
        r.measure
        for r in rows
        if (r.system, r.layer, r.cache, r.clients) == (system, layer, cache, clients)
    )


def report(rows: list[Row], steps: dict[str, list[float]], tipg_ran: bool) -> dict:
    """Print the table, the per-zoom cold latencies, the step breakdown and the summary; the
    figures of every configuration, keyed `system/layer/cache/clients`."""
    table = Table(
        title=f"tiles z{ZOOMS[0]}-z{ZOOMS[-1]}, {VARIABLE} {START:%Y-%m-%d}..{END:%Y-%m-%d}",
        caption=f"ms; CPU: ms per tile of the client (this process), the server process and "
        f"PostgreSQL's backends; warm/304: {WARM_ROUNDS} passes, tipg: {TIPG_ROUNDS} passes, "
        f"cold single client: {COLD_SERVERS} fresh servers",
    )
    for column in ("system", "layer", "cache", "clients"):
        table.add_column(column)
    for column in ("tiles", "tiles/s", "p50", "p95", *(f"z{z} p95" for z in ZOOMS), *CPU):
        table.add_column(column, justify="right")
    for r in rows:
        m = r.measure
        table.add_row(
            r.system,
            r.layer,
            r.cache,
            str(r.clients),
            f"{len(m.ms):,}",
            f"{m.rate:,.0f}",
            f"{m.pct(50):.1f}",
            f"{m.pct(95):.1f}",
            *(f"{m.pct(95, z):.1f}" for z in ZOOMS),
            *(f"{1e3 * seconds / len(m.ms):.2f}" if seconds else "-" for seconds in m.cpu),
        )
    console.print(table)
    zooms = Table(title="single client, per zoom (tiles/s = 1000 / mean ms)")
    for column in ("system", "layer", "cache"):
        zooms.add_column(column)
    for column in ("zoom", "tiles", "tiles/s", "p50", "p95"):
        zooms.add_column(column, justify="right")
    for r in rows:
        if r.clients != 1 or (r.system == "ours" and r.cache != "cold"):
            continue
        for z in ZOOMS:
            ms = r.measure.at(z)
            zooms.add_row(
                r.system,
                r.layer,
                r.cache,
                str(z),
                str(len(ms)),
                f"{1e3 / ms.mean():,.0f}",
                f"{r.measure.pct(50, z):.1f}",
                f"{r.measure.pct(95, z):.1f}",
            )
    console.print(zooms)
    console.print(
        f"cold z{TARGET_ZOOM} steps, p50 ms (one connection, no HTTP): "
        + ", ".join(f"{name} {np.percentile(ms, 50):.2f}" for name, ms in steps.items())
    )
    cold = find(rows, "ours", "cells", "cold", 1)
    warm = find(rows, "ours", "cells", "warm", CLIENTS)
    raw = find(rows, "raw ST_AsMVT", "no2 per sensor", "-", 1)
    raw16 = find(rows, "raw ST_AsMVT", "no2 per sensor", "-", CLIENTS)
    cold16 = find(rows, "ours", "cells", "cold", CLIENTS)
    if tipg_ran:
        ratios = []
        for cache in ("cold", "warm"):
            for clients in (1, CLIENTS):
                ours = find(rows, "ours", "sensors", cache, clients).rate
                tipg = find(rows, "tipg", "sensors", "-", clients).rate
                ratios.append(f"{cache} {clients} clients {ours / tipg:.1f}x")
        versus = "ours sensors vs tipg " + ", ".join(ratios) + " (target >= 2x)"
    else:
        versus = "tipg could not be installed: no comparison"
    print(
        f"tiles: ours cells z{TARGET_ZOOM} cold p95 {cold.pct(95, TARGET_ZOOM):.1f} ms "
        f"(target < 20); warm {CLIENTS} clients {warm.rate:,.0f} tiles/s (target > 5,000); "
        + versus
    )
    print(
        f"tiles: ours cells cold vs raw ST_AsMVT: 1 client {cold.rate / raw.rate:.1f}x "
        f"({cold.rate:,.0f} vs {raw.rate:,.0f} tiles/s), {CLIENTS} clients "
        f"{cold16.rate / raw16.rate:.1f}x ({cold16.rate:,.0f} vs {raw16.rate:,.0f} tiles/s)"
    )
    return {
        f"{r.system}/{r.layer}/{r.cache}/{r.clients}": {
            "tiles_per_s": r.measure.rate,
            "p50_ms": r.measure.pct(50),
            "p95_ms": r.measure.pct(95),
        }
        for r in rows
    } | {
        f"cold_z{TARGET_ZOOM}_p95_ms": cold.pct(95, TARGET_ZOOM),
        "cold_over_raw_st_asmvt": cold.rate / raw.rate,
    }


def main() -> None:
    """Parse arguments and run the benchmark."""
    args = figures_parser(__doc__).parse_args()
    print_figures({"tiles": asyncio.run(bench())}, args.json)


if __name__ == "__main__":
    main()
