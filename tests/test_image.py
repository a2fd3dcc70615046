"""The production image carries the web map: its wheel, built from what the Dockerfile copies,
holds the MapLibre GL JS bundle that the map page loads (the folder is git-ignored, so a plain
wheel would leave it out)."""

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
VENDOR = ROOT / "citytwin" / "api" / "static" / "vendor"
BUNDLE = ("maplibre-gl.js", "maplibre-gl.css", "LICENSE.txt")
UV = shutil.which("uv") or str(ROOT / ".citytwin" / "tools" / "bin" / "uv")


def stage(name: str) -> str:
    """The text of one `FROM … AS name` stage of the Dockerfile."""
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, re.S | re.M)
    assert match, f"no {name} stage in the Dockerfile"
    return match[1]


def test_the_web_stage_bundles_what_the_map_page_loads():
    web = stage("web")
    assert "COPY web/package.json web/package-lock.json" in web and "npm ci" in web
    assert all(f"/{name}" in web or f" {name}" in web for name in BUNDLE)
    page = (ROOT / "citytwin" / "api" / "static" / "index.html").read_text()
    assert "vendor/maplibre-gl.js" in page and "vendor/maplibre-gl.css" in page
    assert "COPY --from=web /web/vendor ./citytwin/api/static/vendor" in stage("build")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "citytwin/api/static/vendor" in ignored  # the host's copy never stands in for it


@pytest.mark.skipif(not (VENDOR / "maplibre-gl.js").exists(), reason="scripts/setup.sh not run")
@pytest.mark.skipif(not Path(UV).exists(), reason="no uv")
def test_the_wheel_built_as_the_dockerfile_does_has_the_map(tmp_path):
    build = tmp_path / "app"
    build.mkdir()
    # The build stage's COPY lines from the context, in order (the vendor folder is ignored).
    for sources, _ in re.findall(r"^COPY (?!--)(.+) (\S+)$", stage("build"), re.M):
        for source in sources.split():
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, build / source, ignore=shutil.ignore_patterns("vendor"))
            else:
                shutil.copy(path, build / source)
    # What the web stage leaves (setup.sh bundles the same files from the same lock).
    shutil.copytree(VENDOR, build / "citytwin" / "api" / "static" / "vendor")
    # A checkout has .gitignore too, which hatch honours: the bundle must be in the wheel anyway.
    shutil.copy(ROOT / ".gitignore", build / ".gitignore")
    subprocess.run(
        [UV, "build", "--wheel", "--out-dir", str(tmp_path / "dist")],
        cwd=build,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("citytwin-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    for name in BUNDLE:
        member = f"citytwin/api/static/vendor/{name}"
        assert sizes.get(member) == (VENDOR / name).stat().st_size, member
    assert "citytwin/api/static/index.html" in sizes
