"""Every shell and Python example of the README and of docs/*.md, run as written against the demo
city on a live server, from a folder laid out like the project after `make demo` (its
`.citytwin/demo-key`, its layer store at `.citytwin/layers`), so none of them rots.

Not run here: the quick start's `make demo` / `make test` (`make test` is what CI runs, `make demo`
serves until stopped), the MapLibre snippet (the browser tests, tests/web), and blocks marked
`<!-- not run: why -->` in the docs, each naming the test that covers it instead."""

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from typer.testing import CliRunner

from citytwin.api.app import create_app
from citytwin.cli import app as cli_app
from citytwin.cli.simulation import nowcast_layer
from citytwin.db.connect import create_database_if_missing
from tests.conftest import ROOT
from tests.databases import drop_database
from tests.factories import API_KEY
from tests.live_server import serve

README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "scenarios" / "README.md"]
# A fenced block, and the "not run" note right above it if it has one.
BLOCK = re.compile(r"(<!-- not run: (?P<why>[^>]+) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)
LOCAL = "http://127.0.0.1:8000"
# Every HTTP error fails the example, as it would fail a reader.
PRELUDE = 'set -euo pipefail\ncurl() { command curl -sS --fail-with-body "$@"; }\n'

pytestmark = pytest.mark.usefixtures("demo_city")


def examples(language: str) -> list:
    """The blocks in `language` to run, each with the file it is from as its id."""
    found = []
    for path in DOCS:
        for block in BLOCK.finditer(path.read_text()):
            code = block["code"]
            if block["lang"] == language and not block["why"] and "make demo" not in code:
                name = f"{path.relative_to(ROOT)}:{code.splitlines()[0][:40]}"
                found.append(pytest.param(code, id=name))
    return found


def test_blocks_not_run_say_which_test_covers_them():
    for path in DOCS:
        for block in BLOCK.finditer(path.read_text()):
            if block["why"]:
                assert re.search(r"tests/\S+\.py", block["why"]), (path, block["why"])


def project_like(folder: Path, layers: Path) -> Path:
    """`folder` laid out as the project after `make demo`: the demo's key, the layer store."""
    state = folder / ".citytwin"
    state.mkdir(exist_ok=True)
    (state / "demo-key").write_text(API_KEY + "\n")
    if not (state / "layers").exists():
        (state / "layers").symlink_to(layers)
    for name in ("sensors", "scenarios", "gis_data"):
        if not (folder / name).exists():
            (folder / name).symlink_to(ROOT / name)
    return folder


@pytest.fixture(scope="module")
async def site(settings, pool, demo_city, tmp_path_factory):
    layers = tmp_path_factory.mktemp("readme-layers")
    settings = settings.updated(layer_store=str(layers))
    async with pool.acquire() as conn:
        await nowcast_layer(conn, settings)  # as `make demo` leaves one
    app = create_app(settings)
    async with serve(app) as url:
        yield url, layers


def localised(code: str, url: str) -> str:
    """The example pointed at the live server and the project's virtual environment."""
    return code.replace(LOCAL, url).replace(".venv/bin/", f"{ROOT}/.venv/bin/")


@pytest.mark.parametrize("code", examples("sh"))
def test_shell_example(code, site, settings, tmp_path):
    url, layers = site
    project_like(tmp_path, layers)
    env = {
        **os.environ,
        "PATH": f"{ROOT}/.venv/bin:{os.environ['PATH']}",  # `citytwin` as after activating .venv
        "CITYTWIN_DATABASE_URL": settings.database.database_url,
        "CITYTWIN_LAYER_STORE": str(layers),
        "CITYTWIN_STATE_DIR": str(tmp_path / "state"),
    }
    assert run_block(code, url, tmp_path, env).strip()  # every example answers something


@pytest.mark.parametrize("code", examples("python"))
def test_python_example(code, site, tmp_path, monkeypatch):
    monkeypatch.chdir(project_like(tmp_path, site[1]))
    namespace: dict = {}
    exec(compile(localised(code, site[0]), "example", "exec"), namespace)
    frames = [value for value in namespace.values() if hasattr(value, "geometry")]
    assert all(len(frame) > 0 for frame in frames)


def test_the_commands_listed_are_the_cli_commands():
    listed = re.search(r"## Commands\n\n```\n(.*?)```", README, re.S).group(1)
    groups = {group.name for group in cli_app.registered_groups}
    runner = CliRunner()
    seen = set()
    for line in listed.splitlines():
        words = line.split()
        assert words[0] == "citytwin", line
        group = [words[1]] if words[1] in groups else []
        for command in (words[2] if group else words[1]).split("|"):
            result = runner.invoke(cli_app, [*group, command, "--help"])
            assert result.exit_code == 0, f"citytwin {' '.join(group)} {command}: {result.output}"
            seen.add((*group, command))
    every = {(command.name,) for command in cli_app.registered_commands}
    for group in cli_app.registered_groups:
        every |= {(group.name, c.name) for c in group.typer_instance.registered_commands}
    assert seen == every  # the README lists every command, and only real ones


def test_every_setting_and_doc_link_is_real():
    for link in re.findall(r"\]\(((?:docs|scenarios|bench|gis_data|sensors)/[^)#]+)", README):
        assert (ROOT / link).exists(), link
    assert Path(ROOT / "docs" / "images" / "map.png").stat().st_size > 10_000


def own_city_blocks() -> list[str]:
    """The shell blocks of "Your own city", in order."""
    section = re.search(r"## Your own city\n(.*?)\n## ", README, re.S).group(1)
    return [b["code"] for b in BLOCK.finditer(section) if b["lang"] == "sh"]


def run_block(code: str, url: str, folder: Path, env: dict) -> str:
    """The block's output, run by bash in `folder` against `url`; fails the test on an error."""
    done = subprocess.run(
        ["bash", "-c", PRELUDE + localised(code, url)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
async def own_database(settings) -> AsyncIterator[str]:
    """A fresh database beside the test store's (one city per database)."""
    parts = urlsplit(settings.database.database_url)
    name = parts.path.lstrip("/") + "_own_city"
    admin = urlunsplit(parts._replace(path="/postgres"))
    await drop_database(admin, name)
    await create_database_if_missing(admin, name)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    await drop_database(admin, name)


async def test_your_own_city(own_database, settings, tmp_path):
    """The README's "Your own city", as written, on the Helsinki fixture city in a database
    of its own, then its server's answers."""
    build, ask = own_city_blocks()
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    layers = tmp_path / "layers"
    env = {
        **os.environ,
        "CITYTWIN_DATABASE_URL": own_database,
        "CITYTWIN_LAYER_STORE": str(layers),
        "CITYTWIN_STATE_DIR": str(tmp_path / "state"),
    }
    built = await asyncio.to_thread(run_block, build, LOCAL, tmp_path, env)
    record = "Helsinki centre: time zone Europe/Helsinki, EPSG:32635, 50 m cells, 3600 s steps"
    assert record in built
    assert re.search(r"│ roads +│ .* │ 405 +│ 300 +│ 105 outside the", built), built
    assert "read 192, loaded 192, duplicates 0, rejected 0, flagged 0" in built
    assert "read 96, loaded 96, duplicates 0, rejected 0, flagged 0" in built  # local times
    own = settings.updated(database_url=own_database, layer_store=str(layers))
    async with serve(create_app(own)) as url:
        answered = await asyncio.to_thread(run_block, ask, url, tmp_path, env)
        async with httpx.AsyncClient(base_url=url) as client:
            city = (await client.get("/city")).json()
            roads = (await client.get("/ogc/collections/roads/items")).json()
            traffic = (await client.get("/sensors", params={"site_type": "traffic"})).json()
            layers_ = (await client.get("/layers")).json()["layers"]
            counts = {"variable": "vehicle_count", "start": "2026-11-01T22:00:00Z", "limit": 1}
            first = (await client.get("/readings", params=counts)).json()["features"][0]
    assert '"Helsinki centre"' in answered
    assert (city["properties"]["timezone"], city["properties"]["cell_size"]) == (
        "Europe/Helsinki",
        50.0,
    )
    assert roads["numberMatched"] == 300
    assert sorted(f["properties"]["external_id"] for f in traffic["features"]) == [
        "SPO.XX_ESP1_NO2",
        "SPO.XX_ESP1_PM10",
        "SPO.XX_ESP1_PM25",
        "SPO.XX_ESP2_NO2",
    ]
    # Naive local midnight in Helsinki (EET, UTC+2) is 22:00 UTC the day before.
    assert first["properties"]["time"] == "2026-11-01T22:00:00+00:00"
    assert sorted(layer["title"] for layer in layers_) == [
        "Baseline 2026-11-01 to 2026-11-02",
        "Esplanadi at half traffic",
        "Esplanadi at half traffic minus Baseline 2026-11-01 to 2026-11-02",
        "Observed nowcast of no2",
    ]
    for layer in layers_:  # every layer on the city's own grid and clock
        assert (layer["grid"]["crs"], layer["grid"]["cell_size"]) == ("EPSG:32635", 50.0)
        assert (layer["grid"]["nx"], layer["grid"]["ny"], layer["time"]["steps"]) == (9, 10, 24)
