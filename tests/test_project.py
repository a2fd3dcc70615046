"""The project's own promises: documented settings, deployable compose file, CI entry point."""

import re

import geopandas as gpd
import h3
import pandas as pd
import pytest
import yaml

from citytwin.feeds import FeedDefinition
from citytwin.settings import Settings
from tests.conftest import ROOT


def test_readme_documents_every_setting_under_its_group():
    readme = (ROOT / "README.md").read_text()
    sections = {
        heading.split("`settings.", 1)[1].split("`", 1)[0]: text
        for heading, _, text in (
            part.partition("\n") for part in readme.split("\n### ") if "`settings." in part[:80]
        )
    }
    for name, group in Settings.variables().items():
        assert f"`CITYTWIN_{name.upper()}`" in sections[group], (group, name)


def test_compose_drives_the_api_with_real_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"db", "api", "dask-scheduler", "dask-worker"} <= compose["services"].keys()
    assert compose["services"]["db"]["image"].startswith("postgis/postgis:")
    for variable in compose["services"]["api"]["environment"]:
        assert variable.removeprefix("CITYTWIN_").lower() in Settings.variables(), variable


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_the_documented_feed_example_is_a_valid_feed():
    text = (ROOT / "docs" / "feeds.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    feed = FeedDefinition.model_validate(yaml.safe_load(example))
    assert feed.variables["supply_temp"].conversion("degF").scale == pytest.approx(5 / 9)
    assert feed.formats["utility_export"].variables["heat_kwh"].unit == "MWh"


def test_the_demo_city_figures_of_the_readme_are_the_files():
    """The README's demo table (sensors and readings per sample) and base-layer counts, from
    the files themselves (the generator writes them: a regenerated sample must update both)."""
    readme = (ROOT / "README.md").read_text()
    samples = ROOT / "sensors" / "samples"
    long = {
        name: pd.read_csv(samples / name)
        if name.endswith(".csv")
        else pd.read_json(samples / name, lines=True)
        for name in ("traffic.csv", "air.ndjson", "air_bus.csv")
    }
    meters = pd.read_csv(samples / "energy_meters.csv")
    files = {name: (frame["sensor_id"].nunique(), len(frame)) for name, frame in long.items()}
    files["energy_meters.csv"] = (meters["meter_id"].nunique(), 2 * len(meters))  # Wh and kW
    documented = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].strip("`") in files:
            sensors = int(re.match(r"(\d+) ", cells[2]).group(1))
            documented[cells[0].strip("`")] = (sensors, int(cells[3].replace(",", "")))
    assert documented == files
    base = {
        name: len(gpd.read_file(ROOT / "gis_data" / f"{name}.geojson"))
        for name in ("districts", "roads", "buildings")
    }
    counts = re.search(r"its (\d+) municipalities, (\d+) roads and\s+(\d+)\s+buildings", readme)
    assert tuple(map(int, counts.groups())) == (base["districts"], base["roads"], base["buildings"])


def test_the_hexagon_areas_the_readme_states_are_h3s():
    readme = (ROOT / "README.md").read_text()
    base = int(re.search(r"~([\d,]+) m² hexagons", readme).group(1).replace(",", ""))
    tile_cells = int(re.search(r"\(~(\d+) km²\)", readme).group(1))
    assert base == round(h3.average_hexagon_area(10, "m^2"), -3)  # CITYTWIN_H3_RESOLUTION
    assert tile_cells == round(h3.average_hexagon_area(5, "km^2"), -1)  # tile versions' cells
