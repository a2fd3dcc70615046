"""`citytwin listen` as a process under faults: SIGKILL mid-stream, and PostgreSQL stopped for
10 s mid-stream (on a throwaway cluster of its own). Every message the broker accepted is stored
exactly once."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from citytwin.db import embedded
from citytwin.db.connect import create_database_if_missing
from citytwin.settings import Settings
from tests.conftest import ROOT
from tests.stream.conftest import free_port, publish

START = datetime(2026, 11, 18, tzinfo=UTC)


def stream_of(count: int) -> list[tuple[str, dict]]:
    """`count` canonical NO2 readings: sensor i % 50, one minute apart per sensor."""
    return [
        (
            f"city/air/k{i % 50}",
            {"sensor_id": f"k{i % 50}", "lon": 9.50 + (i % 50) / 1000, "lat": 47.14,
             "time": (START + timedelta(minutes=i // 50)).isoformat(), "variable": "no2",
             "value": i % 97, "unit": "µg/m³"},
        )
        for i in range(count)
    ]  # fmt: skip


EXPECTED_SUM = sum(i % 97 for i in range(5000))


class Publisher(threading.Thread):
    """Publishes a stream in paced chunks (QoS 1); `accepted` counts the broker's PUBACKs."""

    def __init__(self, port: int, messages: list, chunk: int = 50, pause: float = 0.03) -> None:
        super().__init__(daemon=True)
        self.port, self.messages, self.chunk, self.pause = port, messages, chunk, pause
        self.accepted = 0

    def run(self) -> None:
        for start in range(0, len(self.messages), self.chunk):
            self.accepted += publish(self.port, self.messages[start : start + self.chunk])
            time.sleep(self.pause)


class ListenerProcess:
    """`citytwin listen` in a subprocess, its log in a file."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log_path, self.env = log, env
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        # The CLI imports the whole package (about 5 s of CPU): on a loaded 2-core machine that
        # took 39 s of wall time, so the wait is generous; a hang still fails.
        seen = self.log_path.read_text().count("listening on") if self.log_path.exists() else 0
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "citytwin"), "listen"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while self.log.count("listening on") == seen:
            assert self.process.poll() is None, self.log
            assert time.monotonic() < deadline, self.log
            time.sleep(0.05)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def listener_env(database_url: str, broker_url: str, state: Path, **settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTWIN_")}
    env |= {
        "CITYTWIN_DATABASE_URL": database_url,
        "CITYTWIN_MQTT_URL": broker_url,
        "CITYTWIN_MQTT_CLIENT_ID": "citytwin-fault-test",
        "CITYTWIN_STATE_DIR": str(state),
    }
    return env | {f"CITYTWIN_{k.upper()}": v for k, v in settings.items()}


async def stored(url: str) -> tuple[int, float]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(value), 0) AS s FROM readings"
        )
        return row["n"], row["s"]
    finally:
        await conn.close()


async def wait_stored(url: str, wanted: int, seconds: float) -> tuple[int, float]:
    """(readings, their sum) once `wanted` are stored, or when `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        result = await stored(url)
        if result[0] >= wanted or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
    broker, settings, conn, tmp_path
):
    listener = ListenerProcess(
        tmp_path / "listener.log",
        listener_env(settings.database.database_url, broker.url, tmp_path),
    )
    listener.start()
    try:
        publisher = Publisher(broker.port, stream_of(5000))
        publisher.start()
        assert (await wait_stored(settings.database.database_url, 1000, 20))[0] >= 1000
        assert publisher.is_alive(), "the stream ended before the kill"
        listener.kill()  # mid-stream: some batches stored and not acknowledged, more coming
        killed_at = (await stored(settings.database.database_url))[0]
        await asyncio.sleep(0.5)
        listener.start()
        await asyncio.to_thread(publisher.join, 60)
        assert publisher.accepted == 5000
        count, total = await wait_stored(settings.database.database_url, 5000, 30)
    finally:
        listener.stop()
    assert killed_at < 5000
    assert (count, total) == (5000, pytest.approx(EXPECTED_SUM))
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_postgres_down_for_10_s_mid_stream_loses_nothing(broker, tmp_path):
    cluster = embedded.cluster_for(
        Settings().updated(
            state_dir=tmp_path / "pg-state", pg_port=free_port(), pg_database="citytwin"
        )
    )
    listener = None
    try:
        await asyncio.to_thread(embedded.start, cluster)
        await create_database_if_missing(cluster.admin_url(), cluster.database)
        env = listener_env(cluster.url, broker.url, tmp_path, mqtt_max_held="500")
        listener = ListenerProcess(tmp_path / "listener.log", env)
        listener.start()  # migrates the new database first
        publisher = Publisher(broker.port, stream_of(3000), pause=0.05)
        publisher.start()
        assert (await wait_stored(cluster.url, 300, 20))[0] >= 300
        await asyncio.to_thread(embedded.stop, cluster)
        down_at = time.monotonic()
        await asyncio.to_thread(publisher.join, 60)  # the stream goes on meanwhile
        await asyncio.sleep(max(0.0, 10 - (time.monotonic() - down_at)))
        await asyncio.to_thread(embedded.start, cluster)
        count, total = await wait_stored(cluster.url, 3000, 30)
        assert publisher.accepted == 3000
        assert (count, total) == (3000, pytest.approx(sum(i % 97 for i in range(3000))))
        log = listener.log
        assert log.count("database unavailable") == 1
        assert log.count("holding 500 unacknowledged messages") == 1
        assert "database back after" in log
    finally:
        if listener is not None:
            listener.stop()
        embedded.stop(cluster)
        shutil.rmtree(cluster.root, ignore_errors=True)
        with contextlib.suppress(OSError):  # /var/lib/citytwin/<digest> when run as root
            cluster.root.parent.rmdir()
