"""`latest_readings` kept by the loader, checked against the stored readings themselves."""

import io

import numpy as np
import pandas as pd
import pytest

from citytwin.db.migrate import migration_files
from citytwin.ingest.pieces import line_pieces
from citytwin.services import ingest as pipeline
from tests.factories import air_rows, to_csv
from tests.twin.readings import air, hourly

COLUMNS = ["time", "value", "flagged", "cell", "prev_time", "prev_value", "run_length"]


async def ingest(conn, feeds, settings, data: bytes):
    return await pipeline.ingest(
        conn,
        feeds["air"],
        data,
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )


async def from_readings(conn) -> pd.DataFrame:
    """The latest state of every series, computed in Python from all stored readings."""
    stored = await conn.fetch(
        "SELECT sensor_id, variable_id, time, value, flagged, cell FROM readings "
        "ORDER BY sensor_id, variable_id, time"
    )
    found = []
    for (sensor, variable), group in pd.DataFrame([dict(r) for r in stored]).groupby(
        ["sensor_id", "variable_id"]
    ):
        values = group["value"].tolist()
        run = 1
        while run < len(values) and values[-run - 1] == values[-1]:
            run += 1
        newest, before = group.iloc[-1], group.iloc[-2] if len(group) > 1 else None
        found.append(
            {
                "sensor_id": sensor,
                "variable_id": variable,
                "time": newest["time"],
                "value": newest["value"],
                "flagged": newest["flagged"],
                "cell": newest["cell"],
                "prev_time": None if before is None else before["time"],
                "prev_value": None if before is None else before["value"],
                "run_length": run,
            }
        )
    return pd.DataFrame(found).set_index(["sensor_id", "variable_id"]).sort_index()


async def held(conn) -> pd.DataFrame:
    rows = await conn.fetch("SELECT * FROM latest_readings")
    return (
        pd.DataFrame([dict(r) for r in rows]).set_index(["sensor_id", "variable_id"]).sort_index()
    )


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert got.index.tolist() == want.index.tolist()
    for column in COLUMNS:
        assert got[column].tolist() == want[column].tolist(), column


def rows_with_a_stuck_series() -> pd.DataFrame:
    """48 h of the factory stations, and S1's o3 stuck at 60 the whole time."""
    stuck = air(hourly("S1", "o3", [60.0] * 48))
    return pd.concat([air_rows(hours=48), stuck], ignore_index=True)


@pytest.mark.parametrize("order", ["time", "reversed", "shuffled"])
async def test_loaded_in_pieces_the_state_is_that_of_the_readings(
    conn, feeds, settings, monkeypatch, order
):
    rows = rows_with_a_stuck_series()
    if order == "shuffled":
        rows = rows.sample(frac=1, random_state=3)
    else:
        rows = rows.sort_values("time", ascending=order == "time", kind="stable")
    data = to_csv(rows)
    monkeypatch.setattr(pipeline, "FIRST_PIECE_BYTES", 2000)
    monkeypatch.setattr(pipeline, "PIECE_BYTES", 2000)
    assert len(list(line_pieces(io.BytesIO(data), 2000, 2000))) > 5
    report = await ingest(conn, feeds, settings, data)
    assert report.loaded == len(rows)
    state = await held(conn)
    assert_same(state, await from_readings(conn))
    assert state["run_length"].max() == 48  # the stuck series, across every piece


async def test_newer_older_and_duplicate_readings_afterwards(conn, feeds, settings):
    rows = rows_with_a_stuck_series()
    hour = (pd.to_datetime(rows["time"]) - pd.Timestamp("2026-11-02T00:00:00Z")) / pd.Timedelta(
        "1h"
    )
    await ingest(conn, feeds, settings, to_csv(rows[(hour >= 10) & (hour < 30)]))
    # Overlapping (duplicates go through staging), newer, then older readings.
    await ingest(conn, feeds, settings, to_csv(rows[(hour >= 20) & (hour < 40)]))
    assert_same(await held(conn), await from_readings(conn))
    await ingest(conn, feeds, settings, to_csv(rows[hour < 10]))
    assert_same(await held(conn), await from_readings(conn))
    await ingest(conn, feeds, settings, to_csv(rows))
    assert_same(await held(conn), await from_readings(conn))


async def test_each_load_with_changes_records_one_event_of_the_changed_cells(conn, feeds, settings):
    data = to_csv(air_rows(hours=4))
    await ingest(conn, feeds, settings, data)
    await ingest(conn, feeds, settings, data)  # a replay changes nothing: no event
    events = await conn.fetch("SELECT id, variable_ids, cells FROM twin_events")
    assert [e["id"] for e in events] == [1]
    pairs = set(zip(events[0]["variable_ids"], events[0]["cells"], strict=True))
    assert pairs == {
        (r["variable_id"], r["cell"])
        for r in await conn.fetch("SELECT DISTINCT variable_id, cell FROM readings")
    }
    assert len(pairs) == 6


async def test_the_migration_backfills_the_same_state(conn, feeds, settings):
    await ingest(conn, feeds, settings, to_csv(rows_with_a_stuck_series()))
    loaded = await held(conn)
    sql = next(sql for _, name, sql in migration_files() if name == "latest_readings")
    await conn.execute("DELETE FROM latest_readings")
    await conn.execute(sql[sql.index("WITH ranked AS") :])
    assert_same(await held(conn), loaded)
    assert np.isnan(loaded["prev_value"]).sum() == 0


async def test_a_mobile_sensor_moving_announces_the_cell_it_left(conn, feeds, settings):
    # S1 once at its point, then a reading 0.05° east of it (another cell), then back.
    first = air(hourly("S1", "no2", [30.0]))
    moved = air(hourly("S1", "no2", [31.0], start=1)).assign(lon=first["lon"] + 0.05)
    back = air(hourly("S1", "no2", [32.0], start=2))
    for rows in (first, moved, back):
        await ingest(conn, feeds, settings, to_csv(rows))
    assert_same(await held(conn), await from_readings(conn))
    cells = [r["cell"] for r in await conn.fetch("SELECT cell FROM readings ORDER BY time")]
    assert cells[0] == cells[2] != cells[1]
    events = await conn.fetch("SELECT cells FROM twin_events ORDER BY id")
    # Each move names both cells: the one left and the one reached.
    assert [sorted(e["cells"]) for e in events] == [
        [cells[0]],
        sorted([cells[0], cells[1]]),
        sorted([cells[0], cells[1]]),
    ]
