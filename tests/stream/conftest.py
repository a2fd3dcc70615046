"""A real Mosquitto broker per test (free port, temporary config, persistence on), a publisher,
and a listener running in the test's event loop against the test database."""

import asyncio
import contextlib
import getpass
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from paho.mqtt.client import Client, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion

from citytwin.db.pool import connect
from citytwin.stream.listener import Listener

MOSQUITTO = Path("/usr/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mosquitto:
    """One broker on a free port; `stop` and `start` again keep its persistent sessions."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    extra: str = ""  # more configuration lines (e.g. an autosave interval)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.root / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.root}/\n"
            # Queue every QoS 1 message for an absent listener (the default keeps 1000).
            "max_queued_messages 0\n"
            f"user {getpass.getuser()}\n" + self.extra  # as root, stay root: the temp dir is root's
        )
        log = (self.root / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, (self.root / "mosquitto.log").read_text()
                time.sleep(0.02)
        raise TimeoutError("mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # a clean exit saves the persistent sessions
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean exit, so only what an autosave wrote before is kept."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None


@pytest.fixture
def broker(request, tmp_path) -> Iterator[Mosquitto]:
    """A broker per test; parametrized indirectly, its value is more configuration."""
    if not MOSQUITTO.exists():
        if os.environ.get("CI"):
            pytest.fail("mosquitto is missing: scripts/setup.sh installs it")
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    root = tmp_path / "mosquitto"
    root.mkdir()
    mosquitto = Mosquitto(root, extra=getattr(request, "param", ""))
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


def publish(port: int, messages: list[tuple[str, bytes | dict | list]], qos: int = 1) -> int:
    """Publish with QoS 1 and wait for the broker's acknowledgements; how many it accepted."""
    client = Client(CallbackAPIVersion.VERSION2, client_id="", protocol=MQTTv311)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        sent = []
        for topic, payload in messages:
            body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            sent.append(client.publish(topic, body, qos=qos))
        for info in sent:
            info.wait_for_publish(20)
        return sum(info.is_published() for info in sent)
    finally:
        client.disconnect()
        client.loop_stop()


async def published(port: int, messages: list[tuple[str, bytes | dict | list]]) -> int:
    """`publish` from a worker thread, every message accepted by the broker."""
    accepted = await asyncio.to_thread(publish, port, messages)
    assert accepted == len(messages)
    return accepted


def reading(sensor, value, unit="ppb", variable="no2", time="2026-11-20T10:00:00Z"):
    return {"sensor_id": sensor, "lon": 9.52, "lat": 47.14, "time": time,
            "variable": variable, "value": value, "unit": unit}  # fmt: skip


def numbered(count: int, prefix: str = "city/air/s") -> list[tuple[str, dict]]:
    """`count` canonical NO2 readings in µg/m³: sensor i % 10, minute i, value i % 97."""
    times = [f"2026-11-19T{i // 60 % 24:02d}:{i % 60:02d}:00Z" for i in range(count)]
    return [
        (f"{prefix}{i % 10}", reading(f"n{i % 10}", i % 97, "µg/m³", time=time))
        for i, time in enumerate(times)
    ]


async def until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    """Wait until `condition()` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def listener_settings(settings, broker: Mosquitto, **changes):
    defaults = {"mqtt_client_id": f"test-{uuid.uuid4().hex[:8]}", "mqtt_batch_ms": 50}
    return settings.updated(mqtt_url=broker.url, **{**defaults, **changes})


class FlakyStore:
    """A database that is away until `up` is set."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.up = False
        self.attempts = 0

    async def __call__(self):
        self.attempts += 1
        if not self.up:
            raise ConnectionRefusedError("the test's database is away")
        return await connect(self.url)


class Listeners:
    """Listeners a test runs as tasks of its event loop; those still running stop at teardown."""

    def __init__(self, settings, broker: Mosquitto, feeds) -> None:
        self.settings, self.broker, self.feeds = settings, broker, feeds
        self.running: list[tuple[Listener, asyncio.Task]] = []

    def start(self, connect_store=None, configured=None, **changes) -> Listener:
        """A listener on the test broker and database (`connect_store` may stand in for it)."""
        configured = configured or listener_settings(self.settings, self.broker, **changes)
        url = self.settings.database.database_url
        listener = Listener(configured, self.feeds, connect_store or (lambda: connect(url)))
        self.running.append((listener, asyncio.create_task(listener.run())))
        return listener

    async def finish(self, listener: Listener) -> None:
        """Stop `listener` and wait until it has left."""
        listener.stop()
        task = next(task for running, task in self.running if running is listener)
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def listeners(broker, settings, feeds, conn) -> AsyncIterator[Listeners]:
    """Start listeners over an emptied store; they stop at the end of the test."""
    started = Listeners(settings, broker, feeds)
    yield started
    for listener, task in started.running:
        listener.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)


@pytest.fixture
async def listening(listeners) -> Listener:
    """A running listener, subscribed, over an emptied store."""
    listener = listeners.start()
    await asyncio.wait_for(listener.ready.wait(), 10)
    return listener
