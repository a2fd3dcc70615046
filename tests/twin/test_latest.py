"""Per-series summaries of loaded pieces, and their merges, against a direct computation."""

import numpy as np
import pandas as pd
import pytest

from citytwin.twin import latest

T0 = pd.Timestamp("2026-11-02T00:00:00")


def readings(series: dict[tuple[int, int], list[tuple[float, float]]]) -> pd.DataFrame:
    """Readings of {(sensor, variable): [(hour, value), ...]} in key order."""
    rows = [
        (sensor, variable, T0 + pd.Timedelta(hours=hour), value, 8_000 + sensor, value > 900)
        for (sensor, variable), points in series.items()
        for hour, value in points
    ]
    frame = pd.DataFrame(
        rows, columns=["sensor_id", "variable_id", "time", "value", "cell", "flagged"]
    )
    return frame.sort_values(["sensor_id", "variable_id", "time"], ignore_index=True)


def direct(frame: pd.DataFrame) -> dict[tuple[int, int], tuple]:
    """(time, value, prev_time, prev_value, run_length, count) per series, by a plain loop."""
    found = {}
    for key, group in frame.groupby(["sensor_id", "variable_id"]):
        values = group["value"].tolist()
        times = group["time"].tolist()
        run = 1
        while run < len(values) and values[-run - 1] == values[-1]:
            run += 1
        before = -2 if len(values) > 1 else -1
        found[key] = (times[-1], values[-1], times[before], values[before], run, len(values))
    return found


def as_dict(summary: pd.DataFrame) -> dict[tuple[int, int], tuple]:
    return {
        (r.sensor_id, r.variable_id): (
            pd.Timestamp(r.time),
            r.value,
            pd.Timestamp(r.prev_time),
            r.prev_value,
            r.run_length,
            r.count,
        )
        for r in summary.itertuples()
    }


SERIES = {
    (1, 1): [(0, 5.0), (1, 7.0), (2, 7.0), (3, 7.0)],
    (1, 2): [(0, 3.0)],
    (2, 1): [(0, 4.0), (1, 4.0), (2, 4.0), (3, 4.0), (4, 4.0), (5, 4.0), (6, 4.0)],
    (3, 1): [(0, 1.0), (1, 2.0), (2, 950.0)],
}


def test_summary_of_one_piece():
    frame = readings(SERIES)
    summary = latest.summarise(frame)
    assert as_dict(summary) == direct(frame)
    assert summary["exact"].all()
    assert summary.set_index(["sensor_id", "variable_id"]).loc[(3, 1), "flagged"]
    assert summary["first_time"].tolist() == [T0] * 4
    assert latest.summarise(frame.iloc[:0]).empty


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_pieces_in_time_order_merge_exactly(order):
    frame = readings(SERIES)
    hours = (frame["time"] - T0).dt.total_seconds() / 3600
    pieces = [frame[hours < 2], frame[(hours >= 2) & (hours < 4)], frame[hours >= 4]]
    if order == "backward":
        pieces.reverse()
    merged = latest.combine([latest.summarise(piece.reset_index(drop=True)) for piece in pieces])
    assert as_dict(merged) == direct(frame)
    assert merged["exact"].all()
    # The stuck series' run crosses all three pieces.
    assert as_dict(merged)[(2, 1)][4] == 7
    first = merged.set_index(["sensor_id", "variable_id"])["first_time"]
    assert (first == T0).all()


def test_interleaved_pieces_are_marked_for_recomputing():
    frame = readings(SERIES)
    odd = frame.index % 2 == 1
    merged = latest.combine(
        [
            latest.summarise(frame[odd].reset_index(drop=True)),
            latest.summarise(frame[~odd].reset_index(drop=True)),
        ]
    )
    exact = merged.set_index(["sensor_id", "variable_id"])["exact"]
    # Series with readings in both pieces interleave; the one-reading series does not.
    assert exact.to_dict() == {(1, 1): False, (1, 2): True, (2, 1): False, (3, 1): False}


def test_merge_keeps_cells_exact_as_64_bit_integers():
    big = 0x8A1F8D2A4C6FFFF
    a = latest.summarise(readings({(1, 1): [(0, 1.0)]}).assign(cell=big))
    b = latest.summarise(readings({(2, 1): [(0, 1.0)]}).assign(cell=big + 1))
    merged = latest.combine([a, latest.empty(), b])
    assert merged["cell"].dtype == np.int64
    assert sorted(merged["cell"].tolist()) == [big, big + 1]


@pytest.mark.parametrize("seed", range(5))
def test_random_series_cut_at_random_times_combine_to_the_direct_answer(seed):
    rng = np.random.default_rng(seed)
    series = {
        (sensor, variable): [
            (hour, float(rng.choice([1.0, 2.0], p=[0.8, 0.2])))
            for hour in np.sort(rng.choice(48, size=rng.integers(1, 30), replace=False))
        ]
        for sensor in range(1, 8)
        for variable in (1, 2)
    }
    frame = readings(series)
    cuts = np.sort(rng.choice(np.arange(1, 48), size=rng.integers(0, 6), replace=False))
    hours = ((frame["time"] - T0).dt.total_seconds() // 3600).astype(int)
    piece = np.searchsorted(cuts, hours, side="right")
    parts = [
        latest.summarise(frame[piece == k].reset_index(drop=True)) for k in range(len(cuts) + 1)
    ]
    rng.shuffle(parts)
    combined = latest.combine(parts)
    assert as_dict(combined) == direct(frame)
    assert combined["exact"].all()
