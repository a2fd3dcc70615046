"""Every shell and Python example of the README and of docs/*.md, run as written against the demo
city on a live server, from a folder laid out like the project after `make demo` (its
`.citytwin/demo-key`, its layer store at `.citytwin/layers`), so none of them rots.

Not run here: the quick start's `make demo` / `make test` (`make test` is what CI runs, `make demo`
serves until stopped), the MapLibre snippet (the browser tests, tests/web), and blocks marked
`<!-- not run: why -->` in the docs, each naming the test that covers it instead."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citytwin.api.app import create_app
from citytwin.cli import app as cli_app
from citytwin.cli.simulation import nowcast_layer
from tests.conftest import ROOT
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
    settings = settings.model_copy(update={"layer_store": str(layers)})
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
