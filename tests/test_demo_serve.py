"""`citytwin demo` as a newcomer runs it (its default --serve): a server that takes the key the
demo printed, and a service with no keys that takes no writes."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from citytwin.api.app import create_app
from citytwin.cli.demo import with_demo_key
from tests.asgi import asgi_client
from tests.conftest import ROOT
from tests.factories import air_rows, to_csv


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_demo_key_is_made_once_and_only_when_no_key_is_set(settings, tmp_path):
    bare = settings.updated(api_keys=[], feed_api_keys={}, state_dir=tmp_path / "state")
    keyed, key = with_demo_key(bare)
    path = tmp_path / "state" / "demo-key"
    assert key is not None and len(key) >= 24 and path.read_text() == key + "\n"
    assert keyed.api.api_keys == [key] and path.stat().st_mode & 0o777 == 0o600
    assert with_demo_key(bare)[1] == key  # the same key on every run of the demo
    assert with_demo_key(settings) == (settings, None)  # configured keys: no demo key


async def test_writes_are_refused_with_no_keys(settings, conn):
    bare = settings.updated(api_keys=[], feed_api_keys={})
    async with asgi_client(create_app(bare)) as client:
        answer = await client.post(
            "/feeds/air/readings",
            content=to_csv(air_rows(hours=1)),
            headers={"X-API-Key": "anything", "Content-Type": "text/csv"},
        )
    assert answer.status_code == 403
    assert answer.json()["detail"] == "writes are disabled: no CITYTWIN_API_KEYS configured"
    assert await conn.fetchval("SELECT count(*) FROM readings") == 0


@pytest.fixture
def demo_server(settings, conn, tmp_path):
    """`citytwin demo` with no key configured, serving on a free port until the test ends."""
    port = free_port()
    env = {
        **os.environ,
        "CITYTWIN_DATABASE_URL": settings.database.database_url,
        "CITYTWIN_STATE_DIR": str(tmp_path / "state"),
        "CITYTWIN_LAYER_STORE": str(tmp_path / "layers"),
        "CITYTWIN_API_KEYS": "",
        "CITYTWIN_FEED_API_KEYS": "",
    }
    log = (tmp_path / "demo.log").open("w")
    demo = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "citytwin"), "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()
            assert time.monotonic() < deadline, "the demo did not serve within 10 minutes"
            try:
                if httpx.get(f"{url}/feeds", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield url, tmp_path / "state", tmp_path / "demo.log"
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        log.close()


def test_the_demo_serves_and_takes_the_key_it_printed(demo_server: tuple[str, Path, Path]):
    url, state, log = demo_server
    key = (state / "demo-key").read_text().strip()
    printed = log.read_text()
    assert f"writes: X-API-Key: {key} (the demo's key, kept in {state / 'demo-key'}" in printed
    body = to_csv(air_rows(hours=1)).replace(b"2026-11-02", b"2026-11-20")
    headers = {"Content-Type": "text/csv"}
    refused = httpx.post(f"{url}/feeds/air/readings", content=body, headers=headers)
    assert refused.status_code == 401, refused.text
    taken = httpx.post(
        f"{url}/feeds/air/readings", content=body, headers={**headers, "X-API-Key": key}
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["loaded"] == taken.json()["read"] > 0
