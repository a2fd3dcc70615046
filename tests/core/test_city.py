"""The city record: time zone and CRS derived from the boundary, checks, settings' overrides."""

import pytest
import shapely

from citytwin.core.city import make_city, timezone_of, with_settings
from citytwin.errors import InvalidParameter
from citytwin.settings import CitySettings, Settings

HELSINKI = shapely.box(24.938, 60.166, 24.950, 60.176)
SANTIAGO = shapely.box(-70.70, -33.50, -70.60, -33.40)


def test_time_zone_and_utm_zone_come_from_the_boundary():
    city = make_city("Helsinki", HELSINKI)
    assert (city.timezone, city.epsg, city.cell_size, city.step_seconds) == (
        "Europe/Helsinki",
        32635,
        100.0,
        3600,
    )
    south = make_city("Santiago", SANTIAGO)
    assert (south.timezone, south.epsg) == ("America/Santiago", 32719)
    assert city.longitude == pytest.approx(24.944)


def test_at_sea_the_zone_follows_the_longitude():
    assert timezone_of(shapely.box(-30.1, 40.0, -30.0, 40.1)) == "Etc/GMT+2"


def test_given_values_win_and_bad_ones_are_refused():
    city = make_city("X", HELSINKI, timezone="UTC", epsg=3067, cell_size=50, step_seconds=900)
    assert (city.timezone, city.epsg, city.cell_size, city.step_seconds) == ("UTC", 3067, 50, 900)
    with pytest.raises(InvalidParameter, match="'Mars/Olympus' is not an IANA time zone"):
        make_city("X", HELSINKI, timezone="Mars/Olympus")
    with pytest.raises(InvalidParameter, match="7000 must divide a day"):
        make_city("X", HELSINKI, step_seconds=7000)
    with pytest.raises(InvalidParameter) as error:
        make_city("X", shapely.LineString([(24.9, 60.1), (25.0, 60.2)]))
    assert error.value.parameter == "boundary"


def test_settings_override_zone_cell_size_and_step():
    city = make_city("Helsinki", HELSINKI)
    assert with_settings(city, Settings(city=CitySettings(_env_file=None))) == city
    changed = with_settings(
        city,
        Settings(
            city=CitySettings(
                _env_file=None, time_zone="UTC", grid_cell_size=250, step_seconds=1800
            )
        ),
    )
    assert (changed.timezone, changed.cell_size, changed.step_seconds) == ("UTC", 250, 1800)
    assert changed.grid().cell_size == 250 and changed.grid().epsg == 32635
