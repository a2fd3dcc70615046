"""Weather from the feeds (wind, temperature, mixing height, cloud, radiation), the
climatology in their gaps, each gap listed under its quantity's fallback."""

import numpy as np
import pandas as pd
import pytest

from citytwin.feeds.units import convert
from citytwin.sim.meteorology import GENERIC_MID_LATITUDE, climatology_weather
from citytwin.sim.observed_weather import MIN_MIXING_HEIGHT, observed_meteorology

TIMES = pd.date_range("2026-11-02", periods=3, freq="h")
ALL = [f"2026-11-02T0{h}:00:00Z" for h in range(3)]


def means(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(sensor, TIMES[step].tz_localize("UTC"), value) for sensor, step, value in rows],
        columns=["sensor", "time", "value"],
    )


def test_feeds_win_where_both_report_and_gaps_are_listed():
    speed = means([("a", 0, 2.0), ("b", 0, 4.0), ("a", 1, 5.0)])
    # Step 0: 350° and 30° average to 10°; step 1: east and west cancel (a calm: no direction).
    direction = means([("a", 0, 350.0), ("b", 0, 30.0), ("a", 1, 90.0), ("b", 1, 270.0)])
    climate = climatology_weather(TIMES, GENERIC_MID_LATITUDE, "Europe/London")
    weather, gaps = observed_meteorology(
        TIMES, {"wind_speed": speed, "wind_direction": direction}, climate
    )
    assert weather.wind_speed[0] == pytest.approx(3.0)
    assert weather.wind_from[0] == pytest.approx(10.0)
    assert weather.wind_speed[1:].tolist() == climate.wind_speed[1:].tolist()
    assert weather.wind_from[1:].tolist() == climate.wind_from[1:].tolist()
    assert gaps["climatology-wind"] == ["2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z"]
    np.testing.assert_array_equal(weather.temperature, climate.temperature)
    assert gaps["climatology-temperature"] == ALL


def test_temperature_mixing_height_cloud_and_radiation_joined_by_time():
    climate = climatology_weather(TIMES, GENERIC_MID_LATITUDE, "Europe/London")
    readings = {
        "temperature": means([("t1", 0, 4.0), ("t2", 0, 6.0), ("t1", 2, -1.0)]),
        "boundary_layer_height": means([("m", 1, 420.0), ("m", 2, 12.0)]),
        "cloud_cover": means([("c", 0, 75.0), ("c", 1, 100.0)]),  # % of the sky
        "solar_radiation": means([("r", 2, 310.0)]),
    }
    weather, gaps = observed_meteorology(TIMES, readings, climate)
    assert weather.temperature.tolist() == [5.0, climate.temperature[1], -1.0]
    assert gaps["climatology-temperature"] == ["2026-11-02T01:00:00Z"]
    # 12 m is shallower than the urban canopy: taken as MIN_MIXING_HEIGHT.
    assert weather.mixing_height.tolist() == [climate.mixing_height[0], 420.0, MIN_MIXING_HEIGHT]
    assert gaps["climatology-mixing-height"] == ["2026-11-02T00:00:00Z"]
    np.testing.assert_allclose(weather.measured("cloud_octas"), [6.0, 8.0, np.nan])
    np.testing.assert_allclose(weather.measured("solar_radiation"), [np.nan, np.nan, 310.0])
    assert gaps["climatology-wind"] == ALL


def test_without_feeds_the_climatology_is_whole():
    climate = climatology_weather(TIMES, GENERIC_MID_LATITUDE, "Europe/London")
    weather, gaps = observed_meteorology(TIMES, {}, climate)
    np.testing.assert_array_equal(weather.wind_speed, climate.wind_speed)
    np.testing.assert_array_equal(weather.mixing_height, climate.mixing_height)
    assert gaps["climatology-wind"] == gaps["climatology-mixing-height"] == ALL
    assert np.isnan(weather.measured("cloud_octas")).all()


def test_weather_units_convert():
    # A cloud feed in oktas, a radiation feed in kW/m², a boundary layer in km.
    assert convert("okta", "%", None, 20.0) == (12.5, 0.0)
    assert convert("kW/m²", "W/m²", None, 20.0) == (1000.0, 0.0)
    assert convert("km", "m", None, 20.0) == (1000.0, 0.0)
    assert convert("okta", "W/m²", None, 20.0) is None
