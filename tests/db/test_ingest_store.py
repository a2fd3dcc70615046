"""Ingest into real PostGIS: round trip, replay, overlap, mobile sensors, all-or-nothing."""

import asyncio

import asyncpg
import h3.api.basic_int as h3
import pandas as pd
import pytest

from citytwin.db.compaction import compact_rollups
from citytwin.errors import DatabaseUnavailable, MalformedInput
from citytwin.services.ingest import ingest
from tests.factories import STATIONS, air_rows, to_csv


async def run(conn, feeds, settings, data: bytes, feed: str = "air", **kwargs):
    return await ingest(
        conn,
        feeds[feed],
        data,
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
        **kwargs,
    )


# What the store holds, compacted or not: day rows and the deltas appended since.
ROLLUP_TOTALS = """SELECT sum(count) AS n, sum(sum) AS s FROM (
    SELECT count, sum FROM cell_rollups UNION ALL SELECT count, sum FROM cell_rollup_deltas) r"""


async def test_round_trip_stores_sensors_readings_and_rollups(conn, feeds, settings):
    rows = air_rows(hours=24)
    report = await run(conn, feeds, settings, to_csv(rows))
    assert (report.read, report.loaded, report.duplicates, report.rejected) == (144, 144, 0, [])

    sensors = await conn.fetch(
        "SELECT external_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, cell FROM sensors ORDER BY 1"
    )
    assert [(s["external_id"], s["lon"], s["lat"]) for s in sensors] == [
        (name, *STATIONS[name]) for name in sorted(STATIONS)
    ]
    assert [s["cell"] for s in sensors] == [
        h3.latlng_to_cell(STATIONS[name][1], STATIONS[name][0], 10) for name in sorted(STATIONS)
    ]

    stored = await conn.fetch(
        "SELECT s.external_id, v.name, r.time, r.value FROM readings r "
        "JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id"
    )
    got = pd.DataFrame([dict(r) for r in stored]).sort_values(["external_id", "name", "time"])
    want = rows.sort_values(["sensor_id", "variable", "time"])
    assert got["value"].tolist() == want["value"].tolist()
    assert got["time"].iloc[0] == pd.Timestamp("2026-11-02T00:00:00Z")

    totals = await conn.fetchrow("SELECT sum(count) AS n, sum(sum) AS s FROM cell_rollups")
    assert totals["n"] == 144
    assert totals["s"] == pytest.approx(rows["value"].sum())


async def test_replay_adds_nothing_and_counts_duplicates(conn, feeds, settings):
    data = to_csv(air_rows(hours=12))
    await run(conn, feeds, settings, data)
    before = await conn.fetchrow(ROLLUP_TOTALS)
    replay = await run(conn, feeds, settings, data)
    assert (replay.loaded, replay.duplicates) == (0, 72)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 72
    after = await conn.fetchrow(ROLLUP_TOTALS)
    assert after == before


async def test_overlapping_file_loads_only_new_rows_and_first_value_wins(conn, feeds, settings):
    first = air_rows(hours=12)
    await run(conn, feeds, settings, to_csv(first))
    second = air_rows(hours=18, seed=8)  # same keys for the first 12 hours, other values
    report = await run(conn, feeds, settings, to_csv(second))
    assert (report.loaded, report.duplicates) == (36, 72)
    n, total = await conn.fetchrow(ROLLUP_TOTALS)
    assert n == 108
    new_hours = second["time"] >= "2026-11-02T12:00:00Z"
    assert total == pytest.approx(first["value"].sum() + second.loc[new_hours, "value"].sum())


async def test_duplicate_rows_within_one_file_count_once(conn, feeds, settings):
    rows = air_rows(hours=2)
    report = await run(conn, feeds, settings, to_csv(pd.concat([rows, rows.iloc[:3]])))
    assert (report.read, report.loaded, report.duplicates) == (15, 12, 3)


async def test_mobile_readings_keep_their_own_point_and_cell(conn, feeds, settings):
    body = (
        "sensor_id,lon,lat,time,variable,value\n"
        "BUS1,9.5200,47.1400,2026-11-02T07:00:00Z,pm25,10\n"
        "BUS1,9.5300,47.1300,2026-11-02T07:10:00Z,pm25,20\n"
    )
    await run(conn, feeds, settings, body.encode())
    rows = await conn.fetch("SELECT ST_AsText(geom) AS wkt, cell FROM readings ORDER BY time")
    assert rows[0]["wkt"] is None  # at the sensor's registered point
    assert rows[1]["wkt"] == "POINT(9.53 47.13)"
    assert rows[1]["cell"] == h3.latlng_to_cell(47.13, 9.53, 10)
    cells = await conn.fetch("SELECT cell, count FROM cell_rollups ORDER BY cell")
    assert sorted(c["cell"] for c in cells) == sorted(
        [h3.latlng_to_cell(47.14, 9.52, 10), h3.latlng_to_cell(47.13, 9.53, 10)]
    )


async def test_rows_of_unknown_sensors_need_a_location(conn, feeds, settings):
    await run(conn, feeds, settings, to_csv(air_rows(hours=1)))
    body = (
        "sensor_id,time,variable,value\n"
        "S1,2026-11-03T07:00:00Z,no2,10\n"
        "NEW,2026-11-03T07:00:00Z,no2,10\n"
    )
    report = await run(conn, feeds, settings, body.encode())
    assert report.loaded == 1
    assert [(r.line, r.field, r.error) for r in report.rejected] == [
        (3, "lon", "unknown sensor and the row has no location")
    ]


async def test_a_failing_load_stores_nothing(conn, feeds, settings):
    # A failure after the readings COPY (here: while merging rollups) must roll everything back.
    await conn.execute("""
        CREATE FUNCTION fail_rollups() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
        CREATE TRIGGER fail_rollups BEFORE INSERT ON cell_rollups
        FOR EACH ROW EXECUTE FUNCTION fail_rollups();""")
    try:
        with pytest.raises(asyncpg.RaiseError, match="disk full"):
            await run(conn, feeds, settings, to_csv(air_rows(hours=6)))
    finally:
        await conn.execute(
            "DROP TRIGGER fail_rollups ON cell_rollups; DROP FUNCTION fail_rollups()"
        )
    for table in ("readings", "sensors", "cell_rollups", "cells"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_losing_the_connection_mid_load_stores_nothing(pool, conn, feeds, settings):
    victim = await pool.acquire()
    try:
        pid = victim.get_server_pid()
        await victim.execute("""
            CREATE OR REPLACE FUNCTION stall_rollups() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$""")
        await victim.execute("""CREATE TRIGGER stall_rollups BEFORE INSERT ON cell_rollups
                                FOR EACH ROW EXECUTE FUNCTION stall_rollups()""")
        load = asyncio.create_task(run(victim, feeds, settings, to_csv(air_rows(hours=6))))
        await asyncio.sleep(1.0)
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(DatabaseUnavailable, match="nothing stored"):
            await load
    finally:
        await pool.release(victim)
        await conn.execute(
            "DROP TRIGGER stall_rollups ON cell_rollups; DROP FUNCTION stall_rollups()"
        )
    assert await conn.fetchval("SELECT count(*) FROM readings") == 0


async def test_files_sharing_an_hour_merge_their_rollups(conn, feeds, settings):
    header = "sensor_id,lon,lat,time,variable,value\n"
    await run(
        conn, feeds, settings, (header + "S1,9.52,47.14,2026-11-02T07:00:00Z,no2,10\n").encode()
    )
    later = header + "S1,9.52,47.14,2026-11-02T07:30:00Z,no2,30\n"
    report = await run(conn, feeds, settings, later.encode())
    assert (report.loaded, report.duplicates) == (1, 0)
    # The second load's day had a row already: its reading went to the deltas, one narrow row.
    day_row = "SELECT count, sum, sum_sq, min, max, slot_count[8:9] AS slots FROM cell_rollups"
    assert dict(await conn.fetchrow(day_row)) == {
        "count": 1,
        "sum": 10.0,
        "sum_sq": 100.0,
        "min": 10.0,
        "max": 10.0,
        "slots": [1, 0],
    }
    deltas = await conn.fetch("SELECT slot, count, sum, min, max FROM cell_rollup_deltas")
    assert [tuple(r) for r in deltas] == [(7, 1, 30.0, 30.0, 30.0)]
    assert await compact_rollups(conn, settings.database.rollup_bucket_seconds) == 1
    assert await conn.fetchval("SELECT count(*) FROM cell_rollup_deltas") == 0
    assert dict(await conn.fetchrow(day_row)) == {
        "count": 2,
        "sum": 40.0,
        "sum_sq": 1000.0,
        "min": 10.0,
        "max": 30.0,
        "slots": [2, 0],
    }


async def test_a_file_in_pieces_lands_as_one(conn, feeds, settings, monkeypatch):
    monkeypatch.setattr("citytwin.services.ingest.FIRST_PIECE_BYTES", 1_000)
    monkeypatch.setattr("citytwin.services.ingest.PIECE_BYTES", 2_000)
    rows = air_rows(hours=24)
    body = to_csv(pd.concat([rows, rows.iloc[:5]]))  # the tail repeats rows of the first piece
    body += b"S1,9.5209,47.141,2026-11-02T05:00:00Z,no2,oops,\n"
    progress: list[int] = []
    report = await run(conn, feeds, settings, body, on_progress=progress.append)
    assert len(progress) > 2 and progress == sorted(progress)
    assert progress[-1] >= len(body)  # every piece repeats the header line
    assert (report.read, report.loaded, report.duplicates) == (150, 144, 5)
    assert [(r.line, r.field) for r in report.rejected] == [(151, "value")]
    n, total = await conn.fetchrow("SELECT sum(count), sum(sum) FROM cell_rollups")
    assert n == 144
    assert total == pytest.approx(rows["value"].sum())


async def test_a_bad_piece_leaves_nothing_of_the_earlier_ones(conn, feeds, settings, monkeypatch):
    monkeypatch.setattr("citytwin.services.ingest.FIRST_PIECE_BYTES", 1_000)
    monkeypatch.setattr("citytwin.services.ingest.PIECE_BYTES", 2_000)
    body = to_csv(air_rows(hours=24)) + b"S1,9.52,47.14,2026-11-02T05:00:00Z,no2,1,x,extra\n"
    with pytest.raises(MalformedInput, match="Expected 7 columns, got 8"):
        await run(conn, feeds, settings, body)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 0
    assert await conn.fetchval("SELECT count(*) FROM sensors") == 0


async def test_extra_columns_become_sensor_properties(conn, feeds, settings):
    body = (
        "sensor_id,lon,lat,time,variable,value,operator,height_m\n"
        "S1,9.52,47.14,2026-11-02T07:00:00Z,no2,10,city,4\n"
        "S1,9.52,47.14,2026-11-02T08:00:00Z,no2,11,city,4\n"
        "S2,9.53,47.13,2026-11-02T07:00:00Z,no2,12,,\n"
    )
    await run(conn, feeds, settings, body.encode())
    stored = dict(await conn.fetch("SELECT external_id, properties FROM sensors"))
    assert stored == {"S1": {"operator": "city", "height_m": "4"}, "S2": {}}
    later = (
        "sensor_id,lon,lat,time,variable,value,operator\n"
        "S2,9.53,47.13,2026-11-03T07:00:00Z,no2,1,lab\n"
    )
    await run(conn, feeds, settings, later.encode())
    assert await conn.fetchval("SELECT properties FROM sensors WHERE external_id = 'S2'") == {
        "operator": "lab"
    }
