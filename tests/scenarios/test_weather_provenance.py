"""A run's provenance names the weather it used: the city's climatology by name, the wind's
source, and the steps whose wind the climatology filled. Hand-built inputs, no database."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from citytwin.core.city import City
from citytwin.scenarios.inputs import CityInputs
from citytwin.scenarios.models import default_parameters
from citytwin.scenarios.run import _provenance
from citytwin.scenarios.spec import parse_scenario
from citytwin.sim.meteorology import GENERIC_MID_LATITUDE

TIMES = pd.date_range("2026-01-12", periods=3, freq="h")
BOUNDARY = shapely.box(24.93, 60.16, 24.95, 60.17)  # Helsinki: nothing of the demo city
SCENARIO = parse_scenario(
    "name: t\nbaseline: {start: 2026-01-12T00:00:00Z, end: 2026-01-12T03:00:00Z, "
    "variables: [no2]}\ninterventions: []\n"
)
FJORD = {"name": "fjord-winter", "day_wind_speed": 5.0, "night_wind_speed": 4.0, "mean": -3.0}


def inputs(readings: dict[str, pd.DataFrame], climatology: dict | None = None) -> CityInputs:
    city = City("Testby", "Europe/Helsinki", 32635, 100.0, 3600, BOUNDARY, "", climatology or {})
    empty = gpd.GeoDataFrame(geometry=[], crs=32635)
    return CityInputs(city, city.grid(), TIMES, empty, empty, readings, "hash")


def step_means(rows: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [("w:1", TIMES[step].tz_localize("UTC"), value) for step, value in rows],
        columns=["sensor", "time", "value"],
    )


def meteorology(run: CityInputs) -> dict:
    return _provenance(SCENARIO, run, default_parameters(), None).parameters["meteorology"]


def test_without_a_weather_feed_the_generic_climatology_is_named_and_every_step_listed():
    run = inputs({})
    named = meteorology(run)
    assert named == {
        "climatology": GENERIC_MID_LATITUDE.as_dict(),
        "wind": "climatology",
        "temperature": "climatology",
        "mixing_height": "climatology",
        "cloud_cover": "the declared cloud cover",
        "solar_radiation": "not measured (the insolation from the sun's elevation and the cloud)",
    }
    assert named["climatology"]["name"] == "generic-mid-latitude"
    assert run.weather_gaps() == [f"2026-01-12T0{h}:00:00Z" for h in range(3)]
    # Night in Helsinki (02-05 local): the generic night wind, 2 m/s from 240°.
    assert run.weather().wind_speed.tolist() == [2.0, 2.0, 2.0]


def test_the_city_climatology_is_named_and_fills_only_the_feeds_gaps():
    readings = {
        "wind_speed": step_means([(0, 7.0), (2, 9.0)]),
        "wind_direction": step_means([(0, 180.0), (2, 90.0)]),
    }
    run = inputs(readings, FJORD)
    named = meteorology(run)
    assert named["wind"] == "weather feeds, climatology in their gaps"
    assert named["climatology"]["name"] == "fjord-winter"
    assert named["climatology"]["mean"] == -3.0
    assert run.weather_gaps() == ["2026-01-12T01:00:00Z"]
    weather = run.weather()
    assert weather.wind_speed.tolist() == [7.0, 4.0, 9.0]  # the fjord's night wind in the gap
    assert weather.wind_from.tolist() == pytest.approx([180.0, 240.0, 90.0])
    assert weather.temperature.max() < 0  # the fjord's winter, not the generic 10 ± 4 °C


def test_every_weather_feed_is_joined_by_time_and_each_gap_named():
    """Temperature, boundary-layer height, cloud and radiation feeds: the steps each did not
    cover are listed under their own fallback, and the stability's cloud only where the class
    needed it (at night here: 00-03 UTC is 02-05 in Helsinki in January, the sun below)."""
    readings = {
        "temperature": step_means([(0, -8.0), (1, -9.0)]),
        "boundary_layer_height": step_means([(2, 180.0)]),
        "cloud_cover": step_means([(1, 50.0)]),
        "no2": step_means([(0, 20.0)]),
    }
    run = inputs(readings, FJORD)
    named = meteorology(run)
    assert (
        named["temperature"]
        == named["mixing_height"]
        == ("weather feeds, climatology in their gaps")
    )
    weather = run.weather()
    assert weather.temperature[:2].tolist() == [-8.0, -9.0]
    assert weather.mixing_height[2] == 180.0
    assert weather.measured("cloud_octas")[1] == 4.0
    every = [f"2026-01-12T0{h}:00:00Z" for h in range(3)]
    assert run.fallbacks() == {
        "climatology-wind": every,
        "climatology-temperature": every[2:],
        "climatology-mixing-height": every[:2],
        "declared-cloud-cover": [every[0], every[2]],
        "no2-derwent-middleton": every,
    }
