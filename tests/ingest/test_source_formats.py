"""Real publishers' layouts through the shipped feed definitions, on made-up fixture files:
bad cells rejected by line and field, times by their declared convention, stations listed."""

import re

import pytest
import yaml

from citytwin.feeds import FeedDefinition
from citytwin.ingest.read import sniff_format
from citytwin.services.ingest import parse
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "feeds"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rejects(valid) -> list[tuple[int, str, str]]:
    return [(r.line, r.field, r.error) for r in valid.rejected]


def series(valid, sensor: str, variable: str) -> list[tuple[str, float]]:
    frame = valid.frame
    rows = frame[(frame["sensor_id"] == sensor) & (frame["variable"] == variable)]
    return [
        (t.strftime("%Y-%m-%dT%H:%MZ"), v) for t, v in zip(rows["time"], rows["value"], strict=True)
    ]


@pytest.mark.parametrize(
    ("feed", "name", "expected"),
    [
        ("air", "laqn.csv", "laqn"),
        ("air", "laqn_stations.csv", "laqn_stations"),
        ("air", "sensor_community.csv", "sensor_community"),
        ("air", "madrid.csv", "madrid"),
        ("air", "madrid_stations.csv", "madrid_stations"),
        ("air", "eea.csv", "eea"),
        ("air", "eea_stations.tsv", "eea_stations"),
        ("traffic", "berlin_mq.csv", "berlin_mq"),
        ("traffic", "berlin_mq_locations.csv", "berlin_mq_locations"),
    ],
)
def test_each_export_is_recognised_by_its_header(feeds, feed, name, expected):
    assert sniff_format(fixture(name), feeds[feed]) == expected


def test_laqn_bad_cells_are_rejected_by_line_and_field(feeds):
    read, valid = parse(fixture("laqn.csv"), feeds["air"])
    assert read == 12  # non-empty pollutant cells
    assert rejects(valid) == [
        (3, "value", "'bad' is not a number"),
        (3, "value", "'-' is not a number"),
        (4, "value", "'29,5' is not a number"),
        (5, "value", "-30 is outside the plausible range 0..2000"),
    ]
    # LAQN's small negatives are instrument noise: kept, flagged (out of the aggregates).
    assert [(f.line, f.error) for f in valid.flagged] == [
        (4, "-1.5 is just below zero: kept, flagged")
    ]
    assert series(valid, "ZZ1", "pm25") == [
        ("2018-01-01T00:00Z", 12.5),
        ("2018-01-01T02:00Z", -1.5),
    ]
    assert len(valid.frame) + len(valid.rejected) == read
    kerbside = valid.frame[valid.frame["sensor_id"] == "ZZ1"].iloc[0]
    assert kerbside["property:site_type"] == "traffic"
    assert kerbside["property:site_class"] == "Kerbside"


def test_sensor_community_bad_cells_and_decimal_commas(feeds):
    read, valid = parse(fixture("sensor_community.csv"), feeds["air"])
    assert read == 7
    assert rejects(valid) == [
        (3, "value", "'9,80' is not a number"),
        (4, "value", "'-' is not a number"),
    ]
    assert series(valid, "90001", "pm10") == [("2019-04-01T00:01Z", 9.77)]


def test_a_declared_decimal_comma_is_read(feeds):
    air = feeds["air"].model_dump()
    air["formats"]["sensor_community"]["decimal"] = ","
    _, valid = parse(
        fixture("sensor_community.csv"),
        FeedDefinition.model_validate(air),
        "csv",
        "sensor_community",
    )
    assert rejects(valid) == [(4, "value", "'-' is not a number")]
    assert series(valid, "90001", "pm10") == [
        ("2019-04-01T00:01Z", 9.77),
        ("2019-04-01T00:03Z", 9.8),
    ]


def test_madrid_codes_hour_ending_local_times_and_dst(feeds):
    read, valid = parse(fixture("madrid.csv"), feeds["air"], city_zone="Europe/Madrid")
    assert read == 9
    assert rejects(valid) == [
        (
            7,
            "variable",
            "'20' is not a variable code of format 'madrid' (1 = so2, 6 = co, 7 = no, 8 = no2, "
            "9 = pm25, 10 = pm10, 12 = nox, 14 = o3)",
        ),
        (8, "value", "'bad' is not a number"),
        (9, "time", "local time 2025-03-30 02:00 is in the DST gap of Europe/Madrid"),
    ]
    # Autumn: 02:00 comes twice (summer, then winter time); hour-ending stamps are moved to the
    # start of their hour, so the four hours are consecutive in UTC.
    assert series(valid, "901", "no2") == [
        ("2025-10-25T22:00Z", 40.0),
        ("2025-10-25T23:00Z", 41.0),
        ("2025-10-26T00:00Z", 42.0),
        ("2025-10-26T01:00Z", 43.0),
    ]
    assert series(valid, "901", "co") == [("2025-10-26T01:00Z", 0.4)]  # mg/m³, canonical
    # Spring: 03:00 local exists (summer time, 01:00Z); its hour began at 00:00Z.
    assert series(valid, "902", "o3") == [("2025-03-30T00:00Z", 56.0)]
    assert set(valid.frame["property:site_type"]) == {"traffic", "urban background"}


def test_madrid_local_times_follow_the_city_zone(feeds):
    _, valid = parse(fixture("madrid.csv"), feeds["air"], city_zone="America/New_York")
    # The same local 01:00 in New York (EDT, UTC-4) ended at 05:00Z.
    assert series(valid, "901", "no2")[0] == ("2025-10-26T04:00Z", 40.0)


def test_berlin_date_and_hour_columns_missing_speeds_and_dst_gap(feeds):
    read, valid = parse(fixture("berlin_mq.csv"), feeds["traffic"], city_zone="Europe/Berlin")
    assert read == 17  # count, truck count and speed cells other than -1
    gap = "local time 2024-03-31 02:00 is in the DST gap of Europe/Berlin"
    assert rejects(valid) == [
        (3, "time", gap),
        (3, "time", gap),
        (3, "time", gap),
        (5, "value", "'abc' is not a number"),
        (6, "time", "hour '25' is not a whole hour 0-23"),
        (6, "time", "hour '25' is not a whole hour 0-23"),
        (6, "time", "hour '25' is not a whole hour 0-23"),
    ]
    # 01:00 CET is 00:00Z; 03:00 CEST (after the gap) is 01:00Z; -1 km/h = no vehicles: no speed.
    assert series(valid, "XX001", "vehicle_count") == [
        ("2024-03-31T00:00Z", 120.0),
        ("2024-03-31T01:00Z", 0.0),
    ]
    assert series(valid, "XX001", "speed") == [("2024-03-31T00:00Z", 55.0)]
    assert series(valid, "XX002", "truck_count") == [("2024-03-31T00:00Z", 11.0)]


def test_eea_validity_units_and_offsets(feeds):
    read, valid = parse(fixture("eea.csv"), feeds["air"])
    assert read == 6
    assert rejects(valid) == [
        (3, "Validity", "'-1' is not a valid flag (valid: 1, 2, 3)"),
        (
            6,
            "variable",
            "'C6H6' is not a variable code of format 'eea' (SO2 = so2, CO = co, NO = no, "
            "NO2 = no2, NOX as NO2 = nox, O3 = o3, PM10 = pm10, PM2.5 = pm25, PM1 = pm1)",
        ),
    ]
    # "2024-01-01 01:00:00 +01:00" is midnight UTC; validity 2 (below detection limit) is kept.
    assert series(valid, "SPO.XX_TEST1_NO2", "no2") == [
        ("2024-01-01T00:00Z", 30.5),
        ("2024-01-01T02:00Z", 0.4),
    ]
    assert series(valid, "SPO.XX_TEST1_CO", "co") == [("2024-01-01T00:00Z", 0.3)]


def test_station_lists_carry_site_metadata(feeds):
    read, valid = parse(fixture("laqn_stations.csv"), feeds["air"])
    assert read == 3
    assert rejects(valid) == [(4, "lat", "not a number")]
    stations = valid.frame.set_index("sensor_id")
    assert stations.loc["ZZ2", "property:site_type"] == "urban background"
    assert (stations.loc["ZZ1", "lon"], stations.loc["ZZ1", "lat"]) == (-0.1, 51.5)

    _, valid = parse(fixture("eea_stations.tsv"), feeds["air"])
    point = valid.frame.set_index("sensor_id").loc["SPO.XX_TEST1_NO2"]
    assert (point["property:inlet_height"], point["property:kerb_distance"]) == ("3.5", "4")
    assert point["property:station_type"] == point["property:site_type"] == "traffic"

    _, valid = parse(fixture("madrid_stations.csv"), feeds["air"])  # BOM, CRLF, `;`
    assert valid.frame["sensor_id"].tolist() == ["901", "902"]
    assert valid.frame["name"].tolist() == ["Plaza de Prueba", "Parque de Prueba"]


@pytest.mark.parametrize(
    ("policy", "value", "flagged", "rejected"),
    [
        ("keep-and-flag", -1.5, ["-1.5 is just below zero: kept, flagged"], []),
        ("clip-and-flag", 0.0, ["-1.5 is just below zero: stored as 0, flagged"], []),
        ("reject", None, [], [(2, "value", "-1.5 is below zero")]),
    ],
)
def test_below_zero_policies(feeds, policy, value, flagged, rejected):
    air = feeds["air"].model_dump()
    air["variables"]["no2"]["below_zero"] = {"policy": policy, "down_to": -5}
    feed = FeedDefinition.model_validate(air)
    body = (
        b"sensor_id,lon,lat,time,variable,value\n"
        b"S1,9.5,47.1,2026-11-02T07:00:00Z,no2,-1.5\n"
        b"S1,9.5,47.1,2026-11-02T08:00:00Z,no2,-6\n"
    )
    _, valid = parse(body, feed)
    assert [f.error for f in valid.flagged] == flagged
    assert rejects(valid) == [*rejected, (3, "value", "-6 is outside the plausible range 0..1000")]
    assert valid.frame["value"].tolist() == ([] if value is None else [value])


def test_a_variable_without_policy_rejects_negatives(feeds):
    body = b"sensor_id,lon,lat,time,variable,value\nS1,9.5,47.1,2026-11-02T07:00:00Z,humidity,-1\n"
    _, valid = parse(body, feeds["air"])
    assert rejects(valid) == [(2, "value", "-1 is outside the plausible range 0..100")]


def test_utility_export_of_the_docs_rejects_bad_cells():
    example = (ROOT / "docs" / "feeds.md").read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    feed = FeedDefinition.model_validate(yaml.safe_load(example))
    body = (
        "Zaehler;Adresse;Laenge;Breite;Zeit;Waerme_MWh;Vorlauf;Strasse\n"
        "H1;Rathaus;9.52;47.14;02.11.2026 07:00;0,8;70;Hauptstrasse\n"
        "H1;Rathaus;9.52;47.14;02.11.2026 08:00;bad;-;Hauptstrasse\n"
    ).encode("latin-1")
    _, valid = parse(body, feed, city_zone="Europe/Zurich")
    assert rejects(valid) == [
        (3, "value", "'bad' is not a number"),
        (3, "value", "'-' is not a number"),
    ]
    assert series(valid, "H1", "heat_kwh") == [("2026-11-02T05:00Z", pytest.approx(800.0))]


def test_the_eea_fixture_has_the_documented_columns():
    # docs/feeds.md names the e-Reporting download's 17 columns; the fixture has them, in order.
    documented = re.search(
        r"17 columns are, in order: `([^`]+)`", (ROOT / "docs/feeds.md").read_text()
    )
    columns = [name.strip() for name in documented.group(1).split(",")]
    assert len(columns) == 17
    assert fixture("eea.csv").decode().splitlines()[0].split(",") == columns
    assert (ROOT / "tests/fixtures/helsinki_air.csv").read_text().splitlines()[0].split(
        ","
    ) == columns
