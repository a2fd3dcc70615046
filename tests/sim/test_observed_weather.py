"""Wind from the weather feeds, the climatology in their gaps."""

import numpy as np
import pandas as pd
import pytest

from citytwin.sim.meteorology import GENERIC_MID_LATITUDE, climatology_weather
from citytwin.sim.observed_weather import observed_meteorology

TIMES = pd.date_range("2026-11-02", periods=3, freq="h")


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
    weather, gaps = observed_meteorology(TIMES, speed, direction, climate)
    assert weather.wind_speed[0] == pytest.approx(3.0)
    assert weather.wind_from[0] == pytest.approx(10.0)
    assert weather.wind_speed[1:].tolist() == climate.wind_speed[1:].tolist()
    assert weather.wind_from[1:].tolist() == climate.wind_from[1:].tolist()
    assert gaps == ["2026-11-02T01:00:00Z", "2026-11-02T02:00:00Z"]
    np.testing.assert_array_equal(weather.temperature, climate.temperature)


def test_without_feeds_the_climatology_is_whole():
    climate = climatology_weather(TIMES, GENERIC_MID_LATITUDE, "Europe/London")
    weather, gaps = observed_meteorology(TIMES, None, None, climate)
    np.testing.assert_array_equal(weather.wind_speed, climate.wind_speed)
    assert len(gaps) == 3
