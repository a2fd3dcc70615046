import numpy as np
import pandas as pd

from citytwin.aggregate.rollups import Rollups, days_from_slots, merge_slot_stats, slot_stats


def rollup_delta(readings: pd.DataFrame, bucket_seconds: int) -> Rollups:
    """The day rollups of the unflagged `readings`, as a load computes them."""
    return days_from_slots(slot_stats(readings, bucket_seconds), bucket_seconds)


def readings(hours: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-11-02T22:00", periods=hours, freq="30min").to_numpy()
    size = len(times) * 2
    return pd.DataFrame(
        {
            "sensor_id": np.repeat([1, 2], len(times)).astype(np.int32),
            "variable_id": np.int16(3),
            "time": np.tile(times, 2).astype("datetime64[us]"),
            "value": rng.normal(20, 5, size),
            "cell": np.repeat([111, 222], len(times)).astype(np.int64),
            "flagged": rng.random(size) < 0.1,
        }
    )


def test_slots_hold_each_hour_and_totals_the_day():
    frame = readings()
    rollups = rollup_delta(frame, 3600)
    columns = rollups.columns()
    kept = frame[~frame["flagged"]]
    by_day = kept.groupby([kept["time"].dt.floor("1D"), "cell"])["value"]
    assert columns["count"].tolist() == by_day.count().tolist()
    np.testing.assert_allclose(columns["sum"], by_day.sum())
    np.testing.assert_allclose(columns["min"], by_day.min())
    np.testing.assert_allclose(columns["max"], by_day.max())
    assert rollups.slot_count.shape == (len(rollups), 24)
    first_day = kept[(kept["cell"] == 111) & (kept["time"] < "2026-11-03")]
    hourly = first_day.groupby(first_day["time"].dt.hour)["value"]
    assert rollups.day[0] == np.datetime64("2026-11-02T00:00")
    assert rollups.slot_count[0, 22:].tolist() == hourly.count().tolist()
    np.testing.assert_allclose(rollups.slot_sum[0, 22:], hourly.sum())
    assert rollups.slot_count[0, :22].sum() == 0
    assert np.isinf(rollups.slot_min[0, :22]).all() and np.isinf(rollups.slot_max[0, :22]).all()


def test_rollups_of_pieces_combine_into_the_rollups_of_the_whole():
    frame = readings()
    whole = rollup_delta(frame, 1800)
    shuffled = frame.sample(frac=1, random_state=3)
    pieces = [slot_stats(shuffled.iloc[i::4], 1800) for i in range(4)]
    merged = days_from_slots(merge_slot_stats(pieces), 1800)
    for name, values in whole.columns().items():
        np.testing.assert_allclose(
            merged.columns()[name].astype(float), values.astype(float), err_msg=name
        )
