"""Publishers' exports over HTTP and through the CLI (fixtures of our own): bad cells named by
line and field, station lists joined by id and queryable, definitions refused at load."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citytwin.cli import app
from citytwin.errors import FeedDefinitionError
from citytwin.feeds import load_feeds
from citytwin.services.ingest import ingest
from citytwin.settings import Settings
from tests.conftest import ROOT, city_zone
from tests.factories import API_KEY

FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
WRITE = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}
runner = CliRunner()
FIRST_NO2 = (
    "SELECT min(time) FROM readings r JOIN variables v ON v.id = r.variable_id WHERE v.name = 'no2'"
)


async def post(client, feed: str, name: str, **params) -> dict:
    answer = await client.post(
        f"/feeds/{feed}/readings",
        content=(FIXTURES / name).read_bytes(),
        headers=WRITE,
        params=params,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def named(rows: list[dict]) -> list[tuple[int, str, str]]:
    return [(r["line"], r["field"], r["error"]) for r in rows]


async def test_laqn_over_http_names_bad_cells_and_stations_are_queryable(client):
    stations = await post(client, "air", "laqn_stations.csv")
    assert (stations["read"], stations["stations"], stations["loaded"]) == (3, 2, 0)
    assert named(stations["rejected"]) == [(4, "lat", "not a number")]

    answer = await post(client, "air", "laqn.csv")
    assert (answer["read"], answer["loaded"]) == (12, 8)
    assert named(answer["rejected"]) == [
        (3, "value", "'bad' is not a number"),
        (3, "value", "'-' is not a number"),
        (4, "value", "'29,5' is not a number"),
        (5, "value", "-30 is outside the plausible range 0..2000"),
    ]
    assert named(answer["flagged"]) == [(4, "value", "-1.5 is just below zero: kept, flagged")]

    traffic = (await client.get("/sensors", params={"site_type": "traffic"})).json()
    assert [f["properties"]["external_id"] for f in traffic["features"]] == ["ZZ1"]
    assert traffic["features"][0]["properties"]["site_class"] == "Kerbside"
    assert traffic["features"][0]["geometry"]["coordinates"] == [-0.1, 51.5]
    background = (await client.get("/sensors", params={"site_type": "urban background"})).json()
    assert [f["properties"]["name"] for f in background["features"]] == ["Testham - Park"]
    rural = (await client.get("/sensors", params={"site_type": "rural"})).json()
    assert rural["features"] == []
    # The same filter on the OGC API - Features collection, counted.
    ogc = "/ogc/collections/sensors/items"
    kerbside = (await client.get(ogc, params={"site_type": "traffic"})).json()
    found = [f["properties"]["external_id"] for f in kerbside["features"]]
    assert (kerbside["numberMatched"], found) == (1, ["ZZ1"])
    none = (await client.get(ogc, params={"site_type": "rural"})).json()
    assert (none["numberMatched"], none["features"]) == (0, [])


async def test_eea_readings_join_their_sampling_point_metadata(client):
    points = await post(client, "air", "eea_stations.tsv")
    assert points["stations"] == 2
    answer = await post(client, "air", "eea.csv")
    assert (answer["read"], answer["loaded"]) == (6, 3)
    assert named(answer["rejected"]) == [
        (3, "Validity", "'-1' is not a valid flag (valid: 1, 2, 3)"),
        (5, "lon", "unknown sensor and the row has no location"),  # CO point: not in metadata
        (
            6,
            "variable",
            "'C6H6' is not a variable code of format 'eea' (SO2 = so2, CO = co, NO = no, "
            "NO2 = no2, NOX as NO2 = nox, O3 = o3, PM10 = pm10, PM2.5 = pm25, PM1 = pm1)",
        ),
    ]
    sensors = (await client.get("/sensors", params={"feed": "air"})).json()["features"]
    no2 = next(f for f in sensors if f["properties"]["external_id"] == "SPO.XX_TEST1_NO2")
    assert no2["geometry"]["coordinates"] == [10.0, 50.0]
    assert (no2["properties"]["inlet_height"], no2["properties"]["kerb_distance"]) == ("3.5", "4")


async def test_local_times_without_a_city_zone_are_refused_by_name(client, conn):
    # No city imported and no CITYTWIN_TIME_ZONE: Berlin's local times cannot be placed.
    async with city_zone(conn, None):
        await post(client, "traffic", "berlin_mq_locations.csv")
        answer = await post(client, "traffic", "berlin_mq.csv")
    assert answer["loaded"] == 0
    reasons = {(r["field"], r["error"]) for r in answer["rejected"]}
    assert (
        "time",
        "no offset, and no time zone to read it in: set the city's zone (CITYTWIN_TIME_ZONE) "
        "or declare the source's time zone",
    ) in reasons


async def test_readings_of_stations_nobody_listed_say_so(client):
    answer = await post(client, "air", "eea.csv", format="eea")
    assert answer["loaded"] == 0
    assert [r["line"] for r in answer["rejected"] if r["field"] == "lon"] == [2, 4, 5, 7]


@pytest.fixture
def cli_env(monkeypatch, settings, conn, tmp_path):
    monkeypatch.setenv("CITYTWIN_DATABASE_URL", settings.database.database_url)
    monkeypatch.setenv("CITYTWIN_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def test_cli_names_bad_cells_of_a_named_format(cli_env: Path):
    source = FIXTURES / "sensor_community.csv"
    result = runner.invoke(app, ["ingest", "air", str(source), "--format", "sensor_community"])
    assert result.exit_code == 0, result.output
    assert "read 7, loaded 5, duplicates 0, rejected 2, flagged 0" in result.output
    assert "Traceback" not in result.output
    rejects = cli_env / "state" / "rejects" / "sensor_community.csv.rejects.csv"
    assert rejects.read_text(encoding="utf-8").splitlines() == [
        "line,field,error",
        "3,value,\"'9,80' is not a number\"",
        "4,value,'-' is not a number",
    ]


async def test_local_times_follow_the_imported_city_unless_the_setting_overrides(conn, feeds):
    data = (FIXTURES / "madrid.csv").read_bytes()
    async with city_zone(conn, "America/New_York"):
        report = await ingest(conn, feeds["air"], data, resolution=10, bucket_seconds=3600)
    # New York has no DST change on those dates: its 02:00 is once, so the second is a duplicate.
    assert (report.loaded, report.duplicates) == (6, 1)
    # 01:00 local ended the hour: in New York (EDT) it began at 04:00Z.
    assert await conn.fetchval(FIRST_NO2) == datetime(2025, 10, 26, 4, tzinfo=UTC)
    await conn.execute(
        "TRUNCATE readings, sensors, latest_readings, cell_rollups, cell_rollup_deltas, "
        "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas"
    )
    await ingest(
        conn, feeds["air"], data, resolution=10, bucket_seconds=3600, city_zone="Europe/Madrid"
    )  # CITYTWIN_TIME_ZONE overrides the imported zone
    assert await conn.fetchval(FIRST_NO2) == datetime(2025, 10, 25, 22, tzinfo=UTC)


def test_cli_reads_local_times_in_the_city_zone(cli_env: Path, monkeypatch):
    monkeypatch.setenv("CITYTWIN_TIME_ZONE", "Europe/Madrid")
    stations = runner.invoke(app, ["ingest", "air", str(FIXTURES / "madrid_stations.csv")])
    assert "stations 2" in stations.output, stations.output
    result = runner.invoke(app, ["ingest", "air", str(FIXTURES / "madrid.csv")])
    assert "read 9, loaded 6, duplicates 0, rejected 3" in result.output, result.output
    rejects = (cli_env / "state" / "rejects" / "madrid.csv.rejects.csv").read_text("utf-8")
    assert "9,time,local time 2025-03-30 02:00 is in the DST gap of Europe/Madrid" in rejects


BAD_DEFINITIONS = [
    (
        "formats:\n  x:\n    columns: {sensor_id: id, time: t}\n"
        "    variables: {no2: {column: v, unit: furlongs}}\n",
        "formats.x.variables.no2.unit: cannot convert 'furlongs' (not a unit citytwin knows)",
    ),
    (
        "formats:\n  x:\n    columns: {sensor_id: id, time: t}\n    time: {zone: Mars/Olympus}\n"
        "    variables: {no2: {column: v}}\n",
        "formats.x.time.zone\n  Value error, 'Mars/Olympus' is not an IANA time zone",
    ),
    (
        "formats:\n  x:\n    columns: {sensor_id: id, time: t}\n    time: {stamp: hour-middle}\n"
        "    variables: {no2: {column: v}}\n",
        "formats.x.time.stamp\n  Input should be 'hour-beginning' or 'hour-ending'",
    ),
    (
        "formats:\n  x:\n    columns: {sensor_id: id, time: t}\n    time: {format: day month}\n"
        "    variables: {no2: {column: v}}\n",
        "formats.x.time.format\n  Value error, 'day month' has no strptime directive",
    ),
    (
        "formats:\n  x:\n    layout: long\n"
        "    columns: {sensor_id: id, time: t, variable: c, value: v}\n"
        "    variables: {no2: {code: no}}\n",
        "formats.x.variables.no2.code\n  Value error, False is a YAML boolean: quote the code",
    ),
]


@pytest.mark.parametrize(("formats", "message"), BAD_DEFINITIONS)
def test_a_bad_definition_is_refused_at_load_naming_file_and_key(tmp_path, formats, message):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nkind: air\nvariables:\n  no2: {unit: µg/m³, molar_mass: 46.0055}\n" + formats
    )
    with pytest.raises(FeedDefinitionError) as refused:
        load_feeds(tmp_path)
    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)


def test_the_cli_refuses_a_bad_definition(cli_env: Path, tmp_path, monkeypatch):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "bad.yaml").write_text(
        "name: bad\nkind: air\nvariables:\n  no2: {unit: µg/m³}\n"
        "formats:\n  x:\n    columns: {sensor_id: id, time: t}\n"
        "    variables: {no2: {column: v, unit: ppb}}\n"
    )
    monkeypatch.setenv("CITYTWIN_FEEDS_DIR", str(feeds))
    result = runner.invoke(app, ["ingest", "bad", str(FIXTURES / "laqn.csv")])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output
    assert "formats.x.variables.no2.unit: cannot convert 'ppb' to µg/m³" in result.output


def test_a_city_zone_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="'Europe/Nowhere' is not an IANA time zone"):
        Settings().updated(time_zone="Europe/Nowhere")
