"""Real open data from ../shared/data through the shipped feed formats, unchanged.

An extra layer: it runs where ../shared/data is present (CI has it) and is skipped elsewhere
(tests/ingest/test_source_formats.py covers the same formats on fixtures of our own). Each
export is accounted for reading by reading: loaded + duplicates + rejected (with line and
reason) = read, against counts from an independent pandas read of the same file.
"""

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citytwin.services.ingest import IngestReport, ingest
from tests.conftest import ROOT

# ../shared beside the clone (as CI has it), or wherever CITYTWIN_REAL_DATA points (a worktree).
SHARED = Path(os.environ.get("CITYTWIN_REAL_DATA", ROOT.parent / "shared" / "data" / "real"))
pytestmark = pytest.mark.skipif(not SHARED.exists(), reason=f"no real data at {SHARED}")


async def load(conn, feed, data: bytes, zone: str | None = None, **kwargs) -> IngestReport:
    return await ingest(
        conn, feed, data, resolution=10, bucket_seconds=3600, city_zone=zone, **kwargs
    )


def accounted(report: IngestReport, expected: int) -> None:
    assert report.read == expected
    assert report.loaded + report.duplicates + len(report.rejected) == expected
    assert all(r.line >= 2 and r.field and r.error for r in report.rejected)


async def stored(conn, variable: str) -> pd.DataFrame:
    rows = await conn.fetch(
        "SELECT s.external_id AS sensor, r.time, r.value, r.flagged FROM readings r "
        "JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id "
        "WHERE v.name = $1",
        variable,
    )
    return pd.DataFrame([dict(r) for r in rows], columns=["sensor", "time", "value", "flagged"])


async def test_sensor_community_archive_as_published(conn, feeds):
    path = SHARED / "aberdeen_sensor_community" / "sds011_aberdeen_2019-04.csv"
    report = await load(conn, feeds["air"], path.read_bytes())
    source = pd.read_csv(path, sep=";", dtype={"P1": str, "P2": str})
    values = pd.to_numeric(pd.concat([source["P1"], source["P2"]]).dropna(), errors="coerce")
    accounted(report, len(values))
    assert len(report.rejected) == int(values.isna().sum() + (values > 2000).sum())
    first = source.iloc[0]
    pm10 = await stored(conn, "pm10")
    at = pm10[
        (pm10["sensor"] == str(first["sensor_id"]))
        & (pm10["time"] == pd.Timestamp(first["timestamp"], tz="UTC"))
    ]
    assert at["value"].tolist() == [float(first["P1"])]


async def test_london_laqn_export_and_station_list(conn, feeds):
    folder = SHARED / "london_laqn_kdd2018"
    stations = await load(conn, feeds["air"], (folder / "stations.csv").read_bytes())
    assert (stations.read, stations.stations, stations.rejected) == (24, 24, [])

    path = folder / "london_aq_hourly_long.csv"
    report = await load(conn, feeds["air"], path.read_bytes())
    source = pd.read_csv(path)
    long = source.melt(
        id_vars=["station_id", "time_utc"], value_vars=["pm25", "pm10", "no2"]
    ).dropna(subset=["value"])
    accounted(report, len(long))
    low = long["value"] < -20
    high = long["value"] > long["variable"].map({"pm25": 1000, "pm10": 2000, "no2": 1000})
    noise = (long["value"] < 0) & ~low
    assert len(report.rejected) == int((low | high).sum())
    # LAQN's small negatives (instrument noise) are kept and flagged, not rejected.
    assert len(report.flagged) == int(noise.sum()) > 300
    kept = long[~(low | high)].drop_duplicates(["station_id", "time_utc", "variable"])
    assert report.loaded == len(kept)

    no2 = await stored(conn, "no2")
    want = kept[kept["variable"] == "no2"].groupby("station_id")["value"]
    got = no2.groupby("sensor")["value"]
    pd.testing.assert_series_equal(
        got.mean().sort_index(), want.mean().sort_index(), check_names=False, rtol=1e-9
    )
    assert int(no2["flagged"].sum()) == int(noise[long["variable"] == "no2"].sum())

    record = await conn.fetchrow("SELECT name, properties FROM sensors WHERE external_id = 'CD1'")
    assert record["name"] == "Camden - Swiss Cottage"
    assert record["properties"] == {"site_type": "traffic", "site_class": "Kerbside"}


async def test_madrid_open_data_long_file_with_codes_and_stations(conn, feeds):
    folder = SHARED / "madrid_air_quality"
    stations = await load(conn, feeds["air"], (folder / "estaciones_calidad_aire.csv").read_bytes())
    assert (stations.stations, stations.rejected) == (24, [])

    path = folder / "madrid_aq_hourly_long.csv"
    report = await load(conn, feeds["air"], path.read_bytes(), zone="Europe/Madrid")
    source = pd.read_csv(path)
    accounted(report, len(source))
    mapped = {1: "so2", 6: "co", 7: "no", 8: "no2", 9: "pm25", 10: "pm10", 12: "nox", 14: "o3"}
    unmapped = ~source["magnitud"].isin(mapped)
    reasons = Counter(r.field for r in report.rejected)
    assert reasons == {"variable": int(unmapped.sum())}  # benzene, toluene, ethylbenzene
    assert report.loaded == int((~unmapped).sum())

    # Hour-ending local times land at the start of their hour: the file's own UTC end - 1 h.
    co = await stored(conn, "co")
    published = source[source["magnitud"] == 6]
    want = pd.to_datetime(published["time_utc_end"]) - pd.Timedelta(hours=1)
    assert sorted(co["time"]) == sorted(want)
    assert co["value"].sum() == pytest.approx(published["value"].sum())  # mg/m³ as published

    record = await conn.fetchrow("SELECT name, properties FROM sensors WHERE external_id = '4'")
    assert record["name"] == "Plaza de España"
    assert record["properties"] == {
        "site_type": "traffic",
        "altitude": "637",
        "street": "ESPAÑA",
    }


async def test_berlin_traffic_detectors_with_their_locations(conn, feeds):
    folder = SHARED / "berlin_traffic_detection"
    locations = await load(conn, feeds["traffic"], (folder / "mq_locations.csv").read_bytes())
    assert (locations.stations, locations.rejected) == (292, [])

    path = folder / "mq_hr_2024_01-03.csv"
    report = await load(conn, feeds["traffic"], path.read_bytes(), zone="Europe/Berlin")
    source = pd.read_csv(path, sep=";")
    columns = ["q_kfz_mq_hr", "q_lkw_mq_hr", "v_kfz_mq_hr"]
    cells = source.melt(id_vars=["mq_name", "tag", "stunde"], value_vars=columns)
    cells = cells[cells["value"].notna() & (cells["value"] != -1)]  # -1 km/h: no vehicles
    accounted(report, len(cells))
    # The hour 02:00-03:00 of 31 March 2024 does not exist in Berlin: reported as such.
    gap = (cells["tag"] == "31.03.2024") & (cells["stunde"] == 2)
    speed = cells["variable"] == "v_kfz_mq_hr"
    implausible = (cells["value"] < 0) | (cells["value"] > np.where(speed, 250, 12000))
    errors = Counter(r.error for r in report.rejected)
    dst = "local time 2024-03-31 02:00 is in the DST gap of Europe/Berlin"
    assert errors.get(dst, 0) == int(gap.sum())
    assert len(report.rejected) == int((gap | implausible).sum())

    counts = await stored(conn, "vehicle_count")
    first = source.iloc[0]  # TE001, 01.01.2024, hour 0 local = 2023-12-31T23:00Z
    at = counts[counts["sensor"] == first["mq_name"]].sort_values("time").iloc[0]
    assert (at["time"], at["value"]) == (
        pd.Timestamp("2023-12-31T23:00:00Z"),
        float(first["q_kfz_mq_hr"]),
    )
