"""Real open data from ../shared/data through the feed formats, unchanged.

An extra layer: it runs where ../shared/data is present (CI has it) and is skipped elsewhere.
"""

from pathlib import Path

import pandas as pd
import pytest

from citytwin.services.ingest import ingest
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "data" / "real"
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason=f"no real data at {SHARED}")


def head(path: Path, lines: int) -> bytes:
    with path.open("rb") as handle:
        return b"".join(handle.readline() for _ in range(lines))


async def test_sensor_community_archive_as_published(conn, feeds, settings):
    path = SHARED / "aberdeen_sensor_community" / "sds011_aberdeen_2019-04.csv"
    data = head(path, 20_001)
    report = await ingest(conn, feeds["air"], data, resolution=10, bucket_seconds=3600)
    source = pd.read_csv(path, sep=";", nrows=20_000)
    expected = int(source["P1"].notna().sum() + source["P2"].notna().sum())
    assert report.read == expected
    assert report.loaded + report.duplicates + len(report.rejected) == expected
    assert report.loaded > 0.99 * expected
    first = source.iloc[0]
    stored = await conn.fetchval(
        "SELECT r.value FROM readings r JOIN sensors s ON s.id = r.sensor_id "
        "JOIN variables v ON v.id = r.variable_id "
        "WHERE s.external_id = $1 AND v.name = 'pm10' AND r.time = $2",
        str(first["sensor_id"]),
        pd.Timestamp(first["timestamp"], tz="UTC").to_pydatetime(),
    )
    assert stored == first["P1"]


async def test_london_laqn_export_as_published(conn, feeds, settings):
    path = SHARED / "london_laqn_kdd2018" / "london_aq_hourly_long.csv"
    report = await ingest(conn, feeds["air"], head(path, 5_001), resolution=10, bucket_seconds=3600)
    source = pd.read_csv(path, nrows=5_000)
    measured = source[["pm25", "pm10", "no2"]].notna().sum().sum()
    assert report.read == measured
    assert report.loaded + report.duplicates + len(report.rejected) == measured
    # Every stored value is the published one: compare the no2 means per station.
    rows = await conn.fetch(
        "SELECT s.external_id, avg(r.value) AS mean, count(*) AS n FROM readings r "
        "JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id "
        "WHERE v.name = 'no2' GROUP BY 1"
    )
    kept = source[source["no2"].between(0, 1000)]
    want = kept.drop_duplicates(["station_id", "time_utc"]).groupby("station_id")["no2"]
    got = {r["external_id"]: (r["mean"], r["n"]) for r in rows}
    for station, mean in want.mean().items():
        assert got[station][0] == pytest.approx(mean)
        assert got[station][1] == want.count()[station]
    names = await conn.fetchval("SELECT name FROM sensors WHERE external_id = 'BX1'")
    assert names == "Bexley - Slade Green"
    properties = await conn.fetchval("SELECT properties FROM sensors WHERE external_id = 'BX1'")
    assert properties == {"site_type": "Suburban"}
