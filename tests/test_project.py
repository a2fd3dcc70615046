"""The project's own promises: documented settings, deployable compose file, CI entry point."""

import pytest
import yaml

from citytwin.feeds import FeedDefinition
from citytwin.settings import Settings
from tests.conftest import ROOT


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`CITYTWIN_{name.upper()}`" in readme, name


def test_compose_drives_the_api_with_real_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"db", "api", "dask-scheduler", "dask-worker"} <= compose["services"].keys()
    assert compose["services"]["db"]["image"].startswith("postgis/postgis:")
    for variable in compose["services"]["api"]["environment"]:
        assert variable.removeprefix("CITYTWIN_").lower() in Settings.model_fields, variable


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / "README.md").read_text()
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_the_documented_feed_example_is_a_valid_feed():
    text = (ROOT / "docs" / "feeds.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    feed = FeedDefinition.model_validate(yaml.safe_load(example))
    assert feed.variables["supply_temp"].conversion("degF").scale == pytest.approx(5 / 9)
    assert feed.formats["utility_export"].variables["heat_kwh"].unit == "MWh"
