"""The flag rules on their own: stale, stuck and jump, at and around their thresholds."""

import numpy as np

from citytwin.feeds.definition import VariableSpec
from citytwin.twin import flags


def test_stale_only_beyond_the_tolerated_silence():
    hour = 3600.0
    ages = np.array([0.0, 3 * hour, 3 * hour + 1, 10 * hour, 10 * hour])
    intervals = np.array([hour, hour, hour, hour, 4 * hour])
    assert flags.STALE_TOLERANCE == 3.0
    assert flags.stale(ages, intervals).tolist() == [False, False, True, True, False]


def test_stale_without_a_known_interval_is_never_stale():
    assert flags.stale(np.array([1e9]), np.array([np.nan])).tolist() == [False]


def test_stuck_after_six_equal_readings_unless_at_the_bottom_of_the_range():
    runs = np.array([5, 6, 40, 6, 6])
    values = np.array([12.5, 12.5, 12.5, 0.0, 0.0])
    floors = np.array([0.0, 0.0, 0.0, 0.0, np.nan])
    # A zero count at night is real; a variable without a range has no such exemption.
    assert flags.stuck(runs, values, floors).tolist() == [False, True, True, False, True]


def test_jump_is_a_change_faster_than_the_whole_range_per_hour():
    value = np.array([900.0, 900.0, 500.0, 900.0, 900.0])
    before = np.array([10.0, 10.0, 10.0, np.nan, 10.0])
    hours = np.array([1 / 6, 1.0, 1 / 6, 1.0, 1 / 6])
    rate = np.array([1000.0, 1000.0, 1000.0, 1000.0, np.nan])
    # 5340/h, 890/h, 2940/h, no reading before, no range.
    assert flags.jump(value, before, hours, rate).tolist() == [True, False, True, False, False]


def test_rules_read_the_variable_range():
    spec = VariableSpec(unit="µg/m³", range=(0, 1000))
    assert (flags.floor_of(spec), flags.max_rate_of(spec)) == (0, 1000)
    free = VariableSpec(unit="µg/m³")
    assert np.isnan(flags.floor_of(free)) and np.isnan(flags.max_rate_of(free))
