"""Stream benchmark: MQTT publishers at rising rates through Mosquitto into `citytwin listen`,
stored readings/s and publish → `/twin/state` latency, against the file ingest of the same
readings."""

import asyncio
import getpass
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import asyncpg
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from common import VARIABLES, Sensors, empty_store, figures_parser, place_sensors, print_figures
from paho.mqtt.client import Client, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table
from tiles import cpu_seconds, free_port, serve

from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.feeds import load_feeds
from citytwin.services.ingest import ingest
from citytwin.settings import PROJECT_ROOT, Settings

DATABASE = "citytwin_bench_stream"
SENSORS = 2_000
BOUNDS = (9.50, 47.12, 9.54, 47.16)  # Vaduz
RATES = (5_000, 10_000, 20_000, 40_000, 50_000, 80_000)  # offered readings/s
SECONDS = 12.0  # publishing time per rate
SETTLE = 2.0  # first seconds of a rate left out of its sustained rate
PER_MESSAGE = 50  # readings per MQTT message
PUBLISHERS = 4  # threads, each its own MQTT client, topic and quarter of the sensors
MARKS = 2  # marked readings per publisher and second
POLL = 0.1  # seconds between /twin/state requests while a mark is not yet visible
SAMPLE = 0.5  # seconds between counts of the stored readings
DRAIN = 60.0  # seconds a rate may take to be stored once its publishing ended
STAMP = np.timedelta64(60, "s")  # between two readings of a sensor
FIRST_MONTH = np.datetime64("2026-01", "M")  # the warm-up's; rate i publishes in month i + 1
PROBE_BOX = "9.5450,47.1645,9.5500,47.1655"  # holds the probe sensors and no other
UNIT = "µg/m³"
TARGET = (50_000, 2.0)  # readings/s sustained, p95 seconds (issue 17)
MOSQUITTO = Path("/usr/sbin/mosquitto")
CITYTWIN = Path(sys.executable).with_name("citytwin")
START_TIMEOUT = 60.0

console = Console(width=160)


@dataclass
class Step:
    """One offered rate: each publisher's messages in order, and its marked readings."""

    rate: int
    month: np.datetime64
    seconds: float
    messages: list[list[bytes]]
    marks: list[dict[int, str]]  # per publisher: message index → its probe reading's time
    readings: int  # all of them, probe readings included

    def bounds(self) -> tuple[datetime, datetime]:
        """The month this step's readings are timed in (its own partition)."""
        return as_utc(self.month), as_utc(self.month + 1)


def as_utc(month: np.datetime64) -> datetime:
    """The first instant of `month` as an aware UTC datetime."""
    return month.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC)


def json_rows(sensors: Sensors, stamps: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Each sensor and variable at each stamp (time-major) as a canonical JSON object."""
    sensor = np.tile(np.repeat(np.arange(len(sensors)), len(VARIABLES)), len(stamps))
    variable = np.tile(np.arange(len(VARIABLES)), len(sensors) * len(stamps))
    stamp = np.repeat(np.arange(len(stamps)), len(sensors) * len(VARIABLES))
    times = [f"{t}Z" for t in np.datetime_as_string(stamps, unit="s")]
    values = rng.gamma(2.0, 10.0, len(sensor)).clip(0.0, 500.0).round(1)

    def take(texts: list[str], index: np.ndarray) -> pa.Array:
        return pa.array(texts, pa.string()).take(pa.array(index))

    return pc.binary_join_element_wise(
        '{"sensor_id":"',
        take(sensors.ids, sensor),
        '","lon":',
        take([f"{x:.6f}" for x in sensors.lon], sensor),
        ',"lat":',
        take([f"{y:.6f}" for y in sensors.lat], sensor),
        ',"time":"',
        take(times, stamp),
        '","variable":"',
        take(list(VARIABLES), variable),
        '","value":',
        pa.array(values).cast(pa.string()),
        f',"unit":"{UNIT}"}}',
        "",
    )


def probe_row(publisher: int, time_: str, value: int) -> bytes:
    """A marked reading: `no2` of the publisher's probe sensor (north-east of the others)."""
    lon = 9.5460 + 0.0010 * publisher
    return (
        f'{{"sensor_id":"probe-{publisher}","lon":{lon:.4f},"lat":47.1650,"time":"{time_}",'
        f'"variable":"no2","value":{value},"unit":"{UNIT}"}}'
    ).encode()


def plan(
    rate: int, month: np.datetime64, seconds: float, sensors: Sensors, rng: np.random.Generator
) -> tuple[Step, pa.Array]:
    """`rate × seconds` readings in `month`, split by sensor over the publishers into messages
    of PER_MESSAGE, every so many carrying one more, marked, reading; and the plain readings."""
    count = int(rate * seconds)
    per_stamp = len(sensors) * len(VARIABLES)
    start = month.astype("datetime64[s]")
    rows = json_rows(sensors, start + np.arange(-(-count // per_stamp)) * STAMP, rng)[:count]
    owner = np.arange(count) % per_stamp // len(VARIABLES) % PUBLISHERS
    messages, marks, readings = [], [], count
    for publisher in range(PUBLISHERS):
        mine = rows.take(pa.array(np.flatnonzero(owner == publisher)))
        chunks = mine.cast(pa.binary()).to_pylist()
        groups = [chunks[i : i + PER_MESSAGE] for i in range(0, len(chunks), PER_MESSAGE)]
        every = max(1, round(len(groups) / (seconds * MARKS)))
        marked: dict[int, str] = {}
        for index in range(every // 2, len(groups), every):
            stamp = start + np.timedelta64(20, "D") + np.timedelta64(len(marked), "s")
            marked[index] = f"{np.datetime_as_string(stamp, unit='s')}Z"
            groups[index] = [*groups[index], probe_row(publisher, marked[index], len(marked))]
        messages.append([b"[" + b",".join(group) + b"]" for group in groups])
        marks.append(marked)
        readings += len(marked)
    return Step(rate, month, seconds, messages, marks, readings), rows


@dataclass
class Watch:
    """What one step saw: marks sent and seen, counts of its stored readings over time."""

    sent: list[tuple[int, str, float]] = field(default_factory=list)  # publisher, time, at
    seen: dict[tuple[int, str], float] = field(default_factory=dict)
    counts: list[tuple[float, int]] = field(default_factory=list)
    published: float | None = None  # when the last message was handed to its client

    def done(self, expected: int) -> bool:
        """Published, and all `expected` readings stored and marks seen (or DRAIN is over)."""
        if self.published is None:
            return False
        late = time.perf_counter() > self.published + DRAIN
        stored = bool(self.counts) and self.counts[-1][1] >= expected
        return late or (stored and len(self.seen) == len(self.sent))


def publish(
    client: Client, publisher: int, step: Step, start: float, watch: Watch
) -> tuple[float, int]:
    """Send the publisher's messages on schedule (QoS 1): when the last was handed over, and
    how many the broker acknowledged."""
    messages, marks = step.messages[publisher], step.marks[publisher]
    interval = step.seconds / len(messages)
    began = start + interval * publisher / PUBLISHERS
    topic = f"city/air/gateway-{publisher}"
    sent = []
    for index, payload in enumerate(messages):
        delay = began + index * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if index in marks:
            watch.sent.append((publisher, marks[index], time.perf_counter()))
        sent.append(client.publish(topic, payload, qos=1))
    handed = time.perf_counter()
    for info in sent:
        info.wait_for_publish(DRAIN)
    return handed, sum(info.is_published() for info in sent)


async def count_stored(conn: asyncpg.Connection, step: Step, watch: Watch) -> None:
    """Count the step's stored (committed, queryable) readings every SAMPLE seconds."""
    low, high = step.bounds()
    while not watch.done(step.readings):
        count = await conn.fetchval(
            "SELECT count(*) FROM readings WHERE time >= $1 AND time < $2", low, high
        )
        watch.counts.append((time.perf_counter(), count))
        await asyncio.sleep(SAMPLE)


async def watch_marks(api: httpx.AsyncClient, step: Step, watch: Watch) -> None:
    """Poll `/twin/state` for the probe sensors until every mark sent is visible."""
    params = {"variable": "no2", "feed": "air", "bbox": PROBE_BOX}
    while not watch.done(step.readings):
        pending = [(p, t) for p, t, _ in watch.sent if (p, t) not in watch.seen]
        if pending:
            response = (await api.get("/twin/state", params=params)).raise_for_status()
            at = time.perf_counter()
            latest = {s["external_id"]: s["time"] for s in response.json()["sensors"]}
            for publisher, time_ in pending:
                if latest.get(f"probe-{publisher}", "") >= time_:
                    watch.seen[(publisher, time_)] = at
        await asyncio.sleep(POLL)


@dataclass
class Result:
    """One step's figures."""

    step: Step
    offered: float
    sustained: float
    drain: float | None  # seconds from the last publish until all were stored
    latencies: np.ndarray
    missed: int
    acked: int
    cpu: dict[str, float]  # percent of one core over the step


def machine_seconds() -> float:
    """CPU seconds the machine has been busy, all cores (/proc/stat: user, nice, system, irq,
    softirq; not idle, iowait or steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Rig:
    """The running pieces: broker, listener, API, publisher clients, a store connection."""

    conn: asyncpg.Connection
    api: httpx.AsyncClient
    clients: list[Client]
    pids: dict[str, int]

    async def cpu(self) -> dict[str, float]:
        """CPU seconds so far: our processes, the database's backends (the one counting here
        goes to the bench), and the whole machine (`rest`: all else, others' work included)."""
        rows = await self.conn.fetch(
            "SELECT pid, pid = pg_backend_pid() AS ours FROM pg_stat_activity "
            "WHERE datname = current_database()"
        )
        seconds = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for row in rows:
            name = "bench" if row["ours"] else "PostgreSQL"
            seconds[name] = seconds.get(name, 0.0) + cpu_seconds(row["pid"])
        seconds["rest"] = machine_seconds() - sum(seconds.values())
        return seconds


async def run_step(rig: Rig, step: Step) -> Result:
    """Publish the step on schedule while counting stored readings and polling its marks."""
    watch = Watch()
    before, began = await rig.cpu(), time.perf_counter()
    start = began + 0.1
    publishers = asyncio.gather(
        *(
            asyncio.to_thread(publish, rig.clients[p], p, step, start, watch)
            for p in range(PUBLISHERS)
        )
    )
    watchers = asyncio.gather(
        count_stored(rig.conn, step, watch), watch_marks(rig.api, step, watch)
    )
    handed, acked = zip(*await publishers, strict=True)
    watch.published = max(handed)
    await watchers
    after, wall = await rig.cpu(), time.perf_counter() - began
    cpu = {name: 100 * (after[name] - before[name]) / wall for name in after}
    t, n = (np.array(values, float) for values in zip(*watch.counts, strict=True))
    stored = t[n >= step.readings]
    end = stored[0] if len(stored) else t[-1]
    steady = (t >= start + SETTLE) & (t <= end)  # until all are stored: a backlog counts too
    sustained = float(np.polyfit(t[steady], n[steady], 1)[0]) if steady.sum() > 2 else float("nan")
    drain = float(stored[0] - watch.published) if len(stored) else None
    latencies = np.array(
        [watch.seen[(p, m)] - at for p, m, at in watch.sent if (p, m) in watch.seen]
    )
    offered = step.readings / max(step.seconds, watch.published - start)
    missed = len(watch.sent) - len(latencies)
    return Result(step, offered, sustained, drain, latencies, missed, sum(acked), cpu)


@contextmanager
def mosquitto() -> Iterator[tuple[str, int]]:
    """Mosquitto on a free loopback port, persistence on, no queue limit (as the tests run it)."""
    with tempfile.TemporaryDirectory(prefix="citytwin-bench-mqtt-") as root:
        port = free_port()
        conf = Path(root) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {root}/\nmax_queued_messages 0\nuser {getpass.getuser()}\n"
        )
        with (Path(root) / "mosquitto.log").open("ab") as log:
            process = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("mosquitto did not start") from None
                    time.sleep(0.02)
            yield f"mqtt://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            process.wait(10)


def read_log(log: BinaryIO) -> str:
    """What a subprocess has written to `log` so far."""
    log.seek(0)
    return log.read().decode(errors="replace")


@asynccontextmanager
async def listener(mqtt_url: str) -> AsyncIterator[int]:
    """`citytwin listen` on the broker and the bench database, once subscribed; its pid."""
    env = os.environ | {
        "CITYTWIN_PG_DATABASE": DATABASE,
        "CITYTWIN_MQTT_URL": mqtt_url,
        "CITYTWIN_MQTT_CLIENT_ID": "citytwin-bench",
    }
    with tempfile.NamedTemporaryFile(prefix="citytwin-bench-listen-", suffix=".log") as log:
        process = await asyncio.create_subprocess_exec(
            str(CITYTWIN), "listen", env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while "listening on" not in (text := read_log(log)):
                if process.returncode is not None or time.monotonic() > deadline:
                    raise SystemExit(f"citytwin listen did not start:\n{text[-3000:]}")
                await asyncio.sleep(0.1)
            yield process.pid
        finally:
            if process.returncode is None:
                process.terminate()  # stores and acknowledges what it holds, then leaves
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@contextmanager
def publishers(port: int) -> Iterator[list[Client]]:
    """PUBLISHERS connected MQTT clients, each with its own network thread."""
    clients = []
    try:
        for _ in range(PUBLISHERS):
            client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTv311)
            client.max_inflight_messages_set(1000)
            client.connect("127.0.0.1", port)
            client.loop_start()
            clients.append(client)
        yield clients
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()


async def file_baseline(conn: asyncpg.Connection, settings: Settings, ndjson: bytes) -> float:
    """Seconds the file ingest takes for the readings as one NDJSON body, on an empty store."""
    feed = load_feeds(settings.ingest.feeds_dir)["air"]
    rows = ndjson.count(b"\n") + 1
    await empty_store(conn)
    began = time.perf_counter()
    report = await ingest(
        conn,
        feed,
        ndjson,
        encoding="ndjson",
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    seconds = time.perf_counter() - began
    if report.loaded != rows or report.rejected:
        raise SystemExit(f"file ingest loaded {report.loaded:,} of {rows:,}: {report.as_dict()}")
    return seconds


async def bench(rates: list[int], seconds: float) -> dict:
    """File ingest baseline, then a warm-up and every rate through broker, listener and API."""
    rng = np.random.default_rng(20260201)
    sensors = place_sensors(SENSORS, BOUNDS, rng)
    warm_up, _ = plan(SENSORS * len(VARIABLES), FIRST_MONTH, 1.0, sensors, rng)
    steps, rows = [], []
    for number, rate in enumerate(rates, start=1):
        step, plain = plan(rate, FIRST_MONTH + number, seconds, sensors, rng)
        steps.append(step)
        rows.append(plain.cast(pa.binary()))
    ndjson = b"\n".join(pa.chunked_array(rows).to_pylist())
    console.print(
        f"{sum(s.readings for s in steps):,} readings in "
        f"{sum(len(m) for s in steps for m in s.messages):,} messages, "
        f"{len(ndjson) / 1e6:.0f} MB as NDJSON; {os.cpu_count()} CPUs"
    )
    settings = Settings().updated(pg_database=DATABASE)
    conn = await connect(await prepare_store(settings))
    try:
        file_seconds = await file_baseline(conn, settings, ndjson)
        file_rate = (ndjson.count(b"\n") + 1) / file_seconds
        console.print(f"file ingest (one NDJSON body): {file_seconds:.2f} s, {file_rate:,.0f}/s")
        await empty_store(conn)
        letters = "SELECT count(*) FROM dead_letters"  # kept by empty_store: count the new ones
        dead = -await conn.fetchval(letters)
        results = await stream(conn, warm_up, steps)
        dead += await conn.fetchval(letters)
        await empty_store(conn)
    finally:
        await conn.close()
    return report(results, file_rate, dead)


async def stream(conn: asyncpg.Connection, warm_up: Step, steps: list[Step]) -> list[Result]:
    """Start broker, listener, API and publishers; run the warm-up, then each step."""
    async with AsyncExitStack() as stack:
        mqtt_url, broker_pid = stack.enter_context(mosquitto())
        listener_pid = await stack.enter_async_context(listener(mqtt_url))
        command = [sys.executable, "-m", "uvicorn", "--factory", "citytwin.api.app:create_app"]
        env = {"CITYTWIN_PG_DATABASE": DATABASE}
        api, api_pid = await stack.enter_async_context(
            serve("citytwin", command, env, PROJECT_ROOT, "/")
        )
        clients = stack.enter_context(publishers(int(mqtt_url.rsplit(":", 1)[1])))
        pids = {
            "bench": os.getpid(),
            "broker": broker_pid,
            "listener": listener_pid,
            "API": api_pid,
        }
        rig = Rig(conn, api, clients, pids)
        warm = await run_step(rig, warm_up)  # registers the sensors, warms every process
        if warm.drain is None or warm.missed:
            raise SystemExit(f"warm-up: {warm.missed} marks missed, drain {warm.drain}")
        results = []
        for step in steps:
            results.append(await run_step(rig, step))
            console.print(f"{step.rate:,}/s done")
    return results


def percentile(values: np.ndarray, q: float) -> str:
    """The q-th percentile of `values` in seconds for the table ("-" if there are none)."""
    return f"{np.percentile(values, q):.2f}" if len(values) else "-"


def kept_up(r: Result) -> bool:
    """Every reading stored and mark seen, at the offered rate, with p95 under the target."""
    on_pace = r.drain is not None and not r.missed and r.sustained >= 0.97 * r.offered
    return on_pace and np.percentile(r.latencies, 95) < TARGET[1]


def report(results: list[Result], file_rate: float, dead: int) -> dict:
    """The rate table, the file baseline, the ratio and the target line; the figures."""
    names = list(results[0].cpu)
    table = Table(
        title=f"citytwin listen: {PER_MESSAGE} readings per message, QoS 1, {PUBLISHERS} "
        f"publishers, {SENSORS:,} sensors × {len(VARIABLES)} variables; "
        f"CPU in % of one core, {os.cpu_count()} cores"
    )
    columns = ["target/s", "offered/s", "stored/s", "drain s", "p50 s", "p95 s", "max s", "marks"]
    for column in columns + [f"CPU {name}" for name in [*names, "all"]]:
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r.step.rate:,}",
            f"{r.offered:,.0f}",
            f"{r.sustained:,.0f}",
            "not all" if r.drain is None else f"{r.drain:.2f}",
            *(percentile(r.latencies, q) for q in (50, 95, 100)),
            f"{len(r.latencies)}" + (f" ({r.missed} unseen)" if r.missed else ""),
            *(f"{max(0.0, r.cpu[name]):.0f}" for name in names),  # rest: ± sampling noise
            f"{sum(r.cpu.values()):.0f}",
        )
    console.print(table)
    best = max(results, key=lambda r: r.sustained)
    last = max(results, key=lambda r: r.offered)
    limit = (
        "it kept up with the highest rate offered: its limit is higher"
        if kept_up(last)
        else f"at {last.offered:,.0f}/s offered it fell behind: {last.sustained:,.0f}/s stored"
    )
    print(f"file ingest (one NDJSON body of the same readings): {file_rate:,.0f} readings/s")
    print(
        f"stream: best sustained {best.sustained:,.0f} readings/s (offered {best.offered:,.0f}), "
        f"stream / file {best.sustained / file_rate:.2f}; {limit}"
    )
    top = max(filter(kept_up, results), key=lambda r: r.offered, default=None)
    met = top is not None and top.sustained >= 0.97 * TARGET[0]
    highest = "none" if top is None else f"{top.offered:,.0f}/s"
    print(
        f"target: >= {TARGET[0]:,} readings/s sustained with p95 < {TARGET[1]:g} s on "
        f"{os.cpu_count()} cores: {'met' if met else 'NOT met'} (highest rate kept up: {highest})"
    )
    busy = [f"{r.step.rate:,}/s" for r in results if r.cpu["rest"] > 25]
    if busy:
        print(f"warning: other work took over 25% of a core during {', '.join(busy)}")
    if dead:
        print(f"warning: {dead} dead letters")
    if any(r.acked != sum(len(m) for m in r.step.messages) for r in results):
        print("warning: the broker did not acknowledge every message")
    return {
        "file_readings_per_s": file_rate,
        "best_sustained_readings_per_s": best.sustained,
        "highest_rate_kept_up": None if top is None else top.offered,
        "dead_letters": dead,
        "rates": {
            str(r.step.rate): {
                "offered": r.offered,
                "stored": r.sustained,
                "p95_s": float(np.percentile(r.latencies, 95)) if len(r.latencies) else None,
                "kept_up": kept_up(r),
            }
            for r in results
        },
    }


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = figures_parser(__doc__)
    parser.add_argument(
        "--rates", default=",".join(map(str, RATES)), help="offered readings/s, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=SECONDS, help="publishing per rate")
    args = parser.parse_args()
    figures = asyncio.run(bench([int(r) for r in args.rates.split(",")], args.seconds))
    print_figures({"stream": figures}, args.json)


if __name__ == "__main__":
    main()
