"""Sensor hours of a load's readings: per (sensor, variable, UTC hour, flagged), exact. Pure."""

import numpy as np
import pandas as pd

from citytwin.aggregate.sensor_hours import merge_sensor_hours, sensor_hour_stats


def readings(seed: int = 3) -> pd.DataFrame:
    """Two sensors, every 20 minutes for 5 hours from 22:40, a tenth of readings flagged."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-11-02T22:40", periods=15, freq="20min").to_numpy()
    size = len(times) * 2
    return pd.DataFrame(
        {
            "sensor_id": np.repeat([7, 4], len(times)).astype(np.int32),
            "variable_id": np.int16(2),
            "time": np.tile(times, 2).astype("datetime64[us]"),
            "value": rng.normal(20, 5, size),
            "flagged": rng.random(size) < 0.1,
        }
    )


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.assign(hour=frame["time"].dt.floor("h"), sq=frame["value"] ** 2).groupby(
        ["sensor_id", "variable_id", "hour", "flagged"]
    )
    return grouped.agg(
        count=("value", "size"),
        sum=("value", "sum"),
        sum_sq=("sq", "sum"),
        min=("value", "min"),
        max=("value", "max"),
    ).reset_index()


def test_each_sensor_hour_and_flag_is_one_row_whatever_the_order():
    frame = readings()
    stats = sensor_hour_stats(frame)  # sensor 7 first: not in key order
    want = expected(frame)
    assert stats[["sensor_id", "hour", "flagged", "count"]].values.tolist() == (
        want[["sensor_id", "hour", "flagged", "count"]].values.tolist()
    )
    for column in ("sum", "sum_sq", "min", "max"):
        np.testing.assert_allclose(stats[column], want[column])
    # From 22:40 to 03:20: every reading counted once, in 6 hours of each sensor.
    assert stats["count"].sum() == 30
    assert stats.groupby("sensor_id")["hour"].nunique().tolist() == [6, 6]
    assert stats["hour"].min() == np.datetime64("2026-11-02T22:00")
    assert stats["hour"].max() == np.datetime64("2026-11-03T03:00")


def test_pieces_merge_into_the_stats_of_the_whole():
    frame = readings(seed=9)
    ordered = frame.sort_values(["sensor_id", "variable_id", "time"], ignore_index=True)
    pieces = [sensor_hour_stats(ordered.iloc[:11]), sensor_hour_stats(ordered.iloc[11:])]
    merged = merge_sensor_hours(pieces)
    whole = sensor_hour_stats(ordered)
    assert merged[["sensor_id", "hour", "flagged", "count"]].values.tolist() == (
        whole[["sensor_id", "hour", "flagged", "count"]].values.tolist()
    )
    np.testing.assert_allclose(
        merged[["sum", "sum_sq", "min", "max"]], whole[["sum", "sum_sq", "min", "max"]]
    )


def test_no_readings_no_rows():
    assert len(sensor_hour_stats(readings().iloc[:0])) == 0
