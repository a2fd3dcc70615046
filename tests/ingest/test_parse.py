"""Reading and validating sources, without a database: every bad row named, good rows kept."""

import pandas as pd
import pytest

from citytwin.errors import MalformedInput
from citytwin.feeds import FeedDefinition
from citytwin.services.ingest import parse
from citytwin.settings import Settings
from tests.factories import air_rows, to_csv

HEADER = "sensor_id,lon,lat,time,variable,value,unit\n"


def rejects(report) -> list[tuple[int, str, str]]:
    return [(r.line, r.field, r.error) for r in report.rejected]


def test_clean_canonical_csv_is_typed_and_in_utc(feeds):
    read, valid = parse(to_csv(air_rows(hours=2)), feeds["air"])
    assert read == 12 and valid.rejected == []
    frame = valid.frame
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert frame["time"].min() == pd.Timestamp("2026-11-02T00:00:00Z")
    assert frame["line"].tolist() == list(range(2, 14))


def test_each_bad_field_is_named_with_its_line(feeds):
    body = (
        HEADER
        + "S1,9.52,47.14,2026-11-02T07:00:00Z,no2,40,\n"  # 2 ok
        + "S1,200,47.14,2026-11-02T08:00:00Z,no2,40,\n"  # 3 lon
        + "S1,9.52,north,2026-11-02T08:00:00Z,no2,40,\n"  # 4 lat
        + "S1,9.52,47.14,someday,no2,40,\n"  # 5 time
        + "S1,9.52,47.14,2026-11-02T09:00:00Z,co2,40,\n"  # 6 variable
        + "S1,9.52,47.14,2026-11-02T09:00:00Z,no2,abc,\n"  # 7 value
        + "S1,9.52,47.14,2026-11-02T10:00:00Z,no2,inf,\n"  # 8 value
        + "S1,9.52,47.14,2026-11-02T11:00:00Z,no2,40,furlongs\n"  # 9 unit
        + "S1,9.52,47.14,2026-11-02T12:00:00Z,no2,5000,\n"  # 10 range
        + ",9.52,47.14,2026-11-02T12:00:00Z,no2,5,\n"
    )  # 11 sensor_id
    read, valid = parse(body.encode(), feeds["air"])
    assert read == 10
    assert len(valid.frame) == 1 and valid.frame["line"].tolist() == [2]
    assert rejects(valid) == [
        (3, "lon", "must be within -180..180"),
        (4, "lat", "not a number"),
        (5, "time", "cannot parse 'someday' as a time"),
        (
            6,
            "variable",
            "'co2' is not a variable of feed 'air' (boundary_layer_height, cloud_cover, co, "
            "humidity, no, no2, nox, o3, pm1, pm10, pm25, so2, solar_radiation, temperature, "
            "wind_direction, wind_speed)",
        ),
        (7, "value", "'abc' is not a number"),
        (8, "value", "'inf' is not finite"),
        (
            9,
            "unit",
            "cannot convert 'furlongs' (not a unit citytwin knows) to µg/m³ (accepted: "
            "µg/m³, or a unit of the same quantity) for variable 'no2'",
        ),
        (10, "value", "5000 is outside the plausible range 0..1000"),
        (11, "sensor_id", "missing"),
    ]


def test_units_are_converted_to_canonical(feeds):
    body = HEADER + (
        "S1,9.52,47.14,2026-11-02T07:00:00Z,no2,10,ppb\n"
        "S1,9.52,47.14,2026-11-02T07:00:00Z,co,10,ppm\n"
        "S1,9.52,47.14,2026-11-02T07:00:00Z,pm10,0.05,mg/m3\n"
        "S1,9.52,47.14,2026-11-02T07:00:00Z,temperature,50,°F\n"
        "S1,9.52,47.14,2026-11-02T07:00:00Z,wind_speed,36,km/h\n"
    )
    _, valid = parse(body.encode(), feeds["air"])
    # Air declares 20 °C: an ideal gas fills 22.414 l/mol * 293.15/273.15 = 24.055 l/mol, so
    # 1 ppb NO2 (46.0055 g/mol) is 1.9125 µg/m³ and 1 ppm CO (28.010 g/mol) 1.1644 mg/m³.
    values = dict(zip(valid.frame["variable"], valid.frame["value"], strict=True))
    assert values == {
        "no2": pytest.approx(19.125, abs=1e-3),
        "co": pytest.approx(11.644, abs=1e-3),
        "pm10": pytest.approx(50.0),
        "temperature": pytest.approx(10.0),
        "wind_speed": pytest.approx(10.0),
    }


def test_a_gas_without_molar_mass_has_no_ppb(feeds):
    body = HEADER + "S1,9.52,47.14,2026-11-02T07:00:00Z,pm25,10,ppb\n"
    _, valid = parse(body.encode(), feeds["air"])
    assert rejects(valid) == [
        (
            2,
            "unit",
            "cannot convert 'ppb' to µg/m³ (accepted: µg/m³, or a unit of the same quantity) "
            "for variable 'pm25'",
        )
    ]


def test_out_of_range_flagged_when_the_feed_says_so(feeds):
    body = HEADER + "S1,9.52,47.14,2026-11-02T07:00:00Z,o3,900,\n"
    _, valid = parse(body.encode(), feeds["air"])
    assert valid.rejected == []
    assert valid.frame["flagged"].tolist() == [True]
    assert [(f.line, f.field) for f in valid.flagged] == [(2, "value")]


def test_naive_times_take_the_city_zone_or_are_refused(feeds):
    body = HEADER + "S1,-3.70,40.42,2026-11-02T08:00:00,no2,10,\n"
    _, valid = parse(body.encode(), feeds["air"], city_zone="Europe/Madrid")  # UTC+1 in November
    assert valid.frame["time"].tolist() == [pd.Timestamp("2026-11-02T07:00:00Z")]
    _, valid = parse(body.encode(), feeds["air"], city_zone="America/Chicago")  # UTC-6
    assert valid.frame["time"].tolist() == [pd.Timestamp("2026-11-02T14:00:00Z")]
    _, valid = parse(body.encode(), feeds["air"])
    assert rejects(valid) == [
        (
            2,
            "time",
            "no offset, and no time zone to read it in: set the city's zone "
            "(CITYTWIN_TIME_ZONE) or declare the source's time zone",
        )
    ]
    zoned = FeedDefinition.model_validate(
        {**feeds["air"].model_dump(), "name": "zoned", "timezone": "Asia/Tokyo"}
    )
    _, valid = parse(body.encode(), zoned, city_zone="Europe/Madrid")  # the feed's zone wins
    assert valid.frame["time"].tolist() == [pd.Timestamp("2026-11-01T23:00:00Z")]


def test_ndjson_bad_lines_are_rejected_not_fatal(feeds):
    body = (
        b'{"sensor_id":"S1","lon":9.52,"lat":47.14,"time":"2026-11-02T07:00:00Z",'
        b'"variable":"no2","value":12.5}\n'
        b"\n"
        b'{"sensor_id":"S1","lon":9.52,"lat":47.14,"ti\n'
        b'{"sensor_id":"S1","lon":9.52,"lat":47.14,"time":"2026-11-02T08:00:00Z",'
        b'"variable":"no2","value":"x"}\n'
    )
    read, valid = parse(body, feeds["air"], encoding="ndjson")
    assert read == 3
    assert valid.frame["value"].tolist() == [12.5]
    assert [(r.line, r.field) for r in valid.rejected] == [(3, "line"), (4, "value")]


def test_geojson_points(feeds):
    body = (
        b'{"type":"FeatureCollection","features":['
        b'{"type":"Feature","geometry":{"type":"Point","coordinates":[9.52,47.14]},'
        b'"properties":{"sensor_id":"S1","time":"2026-11-02T07:00:00Z","variable":"pm25",'
        b'"value":8}},'
        b'{"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},'
        b'"properties":{}}]}'
    )
    read, valid = parse(body, feeds["air"], encoding="geojson")
    assert read == 2
    assert valid.frame[["lon", "lat", "value"]].values.tolist() == [[9.52, 47.14, 8.0]]
    assert rejects(valid) == [(2, "geometry", "must be a Point with [lon, lat]")]


def test_wide_feed_format_is_melted_and_converted(feeds):
    body = (
        "meter_id,building,longitude,latitude,timestamp,energy_wh,power_kw\n"
        "EM1,Town hall,9.52,47.14,2026-11-02 01:00:00,1500,1.5\n"
        "EM1,Town hall,9.52,47.14,2026-11-02 02:00:00,,2.0\n"
    )
    # Format sniffed from the header; its local times are in the city's zone (UTC+1 here).
    read, valid = parse(body.encode(), feeds["energy"], city_zone="Europe/Zurich")
    assert read == 3  # the empty energy cell is "not measured", not a reading
    frame = valid.frame.sort_values(["time", "variable"])
    assert frame["variable"].tolist() == ["energy_kwh", "power_kw", "power_kw"]
    assert frame["value"].tolist() == [1.5, 1.5, 2.0]
    assert frame["name"].unique().tolist() == ["Town hall"]
    assert frame["time"].iloc[0] == pd.Timestamp("2026-11-02T00:00:00Z")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the file is empty"),
        (
            b"sensor_id,lon,lat,time\nS1,1,2,2026-11-02T07:00:00Z\n",
            "missing columns: variable, value",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data, not text"),
        (
            HEADER.encode() + "S1,9.5,47.1,2026-11-02T07:00:00Z,no2,1,µg/m³\n".encode("latin-1"),
            "line 2: not UTF-8 text",
        ),
        (
            HEADER.encode() + b"S1,9.5,47.1,2026-11-02T07:00:00Z,no2,1,,extra\n",
            "cannot read CSV: CSV parse error: Expected 7 columns, got 8",
        ),
    ],
)
def test_malformed_files_say_what_is_wrong(feeds, body, message):
    with pytest.raises(MalformedInput, match=message):
        parse(body, feeds["air"])


def test_an_overlong_field_is_a_clear_error(feeds):
    good = b"S1,9.5,47.1,2026-11-02T07:00:00Z,no2,1,\n"
    long_unit = b"S1,9.5,47.1,2026-11-02T08:00:00Z,no2,1," + b"x" * (3 << 20) + b"\n"
    with pytest.raises(MalformedInput, match="line 3: field 'unit' is longer than 1 MiB"):
        parse(HEADER.encode() + good + long_unit + good, feeds["air"])


def test_an_overlong_ndjson_line_is_rejected(feeds):
    body = b'{"sensor_id": "' + b"x" * (2 << 20) + b'"}\n'
    _, valid = parse(body, feeds["air"], encoding="ndjson")
    assert [(r.line, r.field, r.error) for r in valid.rejected] == [
        (1, "line", "longer than 1 MiB")
    ]


def test_the_field_bound_is_the_setting(feeds):
    row = b"S1,9.5,47.1,2026-11-02T07:00:00Z,no2,1,%s\n"
    body = HEADER.encode() + row % b"ug" + row % (b"x" * 2000)
    limits = Settings().updated(max_field_bytes=1024).ingest.read_limits()
    with pytest.raises(MalformedInput, match="line 3: field 'unit' is longer than 1,024 bytes"):
        parse(body, feeds["air"], limits=limits)
    assert parse(body, feeds["air"])[0] == 2  # within the default 1 MiB: both rows read
