"""Every shell and Python example of the README, run against the demo city on a live server, so
none of them rots. The quick start's `make demo` / `make test` are not run here: `make test` is
what CI runs, and `make demo` serves until stopped. The MapLibre snippet runs in the browser
tests (tests/web)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citytwin.api.app import create_app
from citytwin.cli import app as cli_app
from citytwin.db.districts import load_districts
from tests.conftest import ROOT
from tests.factories import API_KEY
from tests.live_server import serve

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)
LOCAL = "http://127.0.0.1:8000"
# Every HTTP error fails the example, as it would fail a reader.
PRELUDE = 'set -euo pipefail\ncurl() { command curl -sS --fail-with-body "$@"; }\n'

pytestmark = pytest.mark.usefixtures("demo_city")


def examples(language: str) -> list[str]:
    return [code for lang, code in BLOCKS if lang == language and "make demo" not in code]


@pytest.fixture(scope="module")
async def site(settings, pool, demo_city, tmp_path_factory):
    async with pool.acquire() as conn:
        await load_districts(conn, ROOT / "gis_data" / "districts.geojson")
    layers = tmp_path_factory.mktemp("readme-layers")
    app = create_app(settings.model_copy(update={"layer_store": str(layers)}))
    async with serve(app) as url:
        yield url, layers


def localised(code: str, url: str) -> str:
    """The example pointed at the live server, the project's files and the test's key."""
    return (
        code.replace(LOCAL, url)
        .replace(".venv/bin/", f"{ROOT}/.venv/bin/")
        .replace("@sensors/", f"@{ROOT}/sensors/")
        .replace("change-me", API_KEY)
    )


@pytest.mark.parametrize("code", examples("sh"), ids=lambda code: code.splitlines()[0][:40])
def test_shell_example(code, site, settings, tmp_path):
    url, layers = site
    env = {
        **os.environ,
        "CITYTWIN_DATABASE_URL": settings.database_url,
        "CITYTWIN_LAYER_STORE": str(layers),
        "CITYTWIN_STATE_DIR": str(tmp_path / "state"),
    }
    done = subprocess.run(
        ["bash", "-c", PRELUDE + localised(code, url)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert done.stdout.strip()  # every example answers something


@pytest.mark.parametrize("code", examples("python"), ids=lambda code: code.splitlines()[0][:40])
def test_python_example(code, site):
    namespace: dict = {}
    exec(compile(localised(code, site[0]), "README.md", "exec"), namespace)
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
