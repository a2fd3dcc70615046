"""Faults a load opened or closed, from the hour codes before and after it. Pure."""

import pandas as pd

from citytwin.quality.checks import OFFSET, SPIKE, STUCK
from citytwin.quality.stage import transitions


def test_kinds_that_changed_at_each_sensors_newest_hour_are_events():
    hours = pd.date_range("2026-11-02", periods=4, freq="h").to_numpy()
    codes = pd.DataFrame(
        {"a": [0, STUCK, STUCK | OFFSET, OFFSET], "b": [SPIKE, 0, 0, 0], "c": [0, 0, 0, STUCK]},
        index=hours,
    )
    before = pd.Series({"a": hours[1], "b": hours[3]})  # b's load reached no further: a late file
    after = pd.Series({"a": hours[3], "b": hours[2], "c": hours[3]})  # c is new
    found = [
        (e["sensor"], e["kind"], e["state"], e["hour"]) for e in transitions(codes, before, after)
    ]
    assert found == [
        ("a", "stuck", "closed", hours[3]),
        ("a", "offset", "open", hours[3]),
        ("c", "stuck", "open", hours[3]),
    ]
