"""The `citytwin` command, run in-process against the test database."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citytwin.cli import app, demo_samples
from citytwin.services import ingest as pipeline
from citytwin.settings import Settings
from tests.conftest import ROOT
from tests.factories import air_rows, to_csv

runner = CliRunner()
HEADER = "sensor_id,lon,lat,time,variable,value,unit\n"


@pytest.fixture
def cli_env(monkeypatch, settings, conn, tmp_path):
    monkeypatch.setenv("CITYTWIN_DATABASE_URL", settings.database.database_url)
    monkeypatch.setenv("CITYTWIN_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def test_ingest_reports_and_writes_rejects(cli_env: Path):
    source = cli_env / "air.csv"
    source.write_bytes(
        to_csv(air_rows(hours=2)) + b"S1,9.52,47.14,2026-11-02T09:00:00Z,no2,lots,\n"
    )
    result = runner.invoke(app, ["ingest", "air", str(source)])
    assert result.exit_code == 0, result.output
    rejects = cli_env / "state" / "rejects" / "air.csv.rejects.csv"
    assert (
        f"{source} → air: read 13, loaded 12, duplicates 0, rejected 1, flagged 0" in result.output
    )
    assert rejects.read_text().splitlines() == [
        "line,field,error",
        "14,value,'lots' is not a number",
    ]
    again = runner.invoke(app, ["ingest", "air", str(source)])
    assert "loaded 0, duplicates 12" in again.output


BAD = "S1,9.52,47.14,2026-11-02T09:00:00Z,no2,bad{},\n"


def test_the_rejects_file_has_every_reject_while_the_report_keeps_a_few(cli_env, monkeypatch):
    monkeypatch.setenv("CITYTWIN_REJECTS_LISTED", "3")
    monkeypatch.setattr(pipeline, "FIRST_PIECE_BYTES", 300)  # many pieces
    monkeypatch.setattr(pipeline, "PIECE_BYTES", 600)
    source = cli_env / "bad.csv"
    source.write_bytes(to_csv(air_rows(hours=1)) + "".join(map(BAD.format, range(40))).encode())
    result = runner.invoke(app, ["ingest", "air", str(source)])
    assert result.exit_code == 0, result.output
    assert "read 46, loaded 6, duplicates 0, rejected 40, flagged 0" in result.output
    rejects = (cli_env / "state" / "rejects" / "bad.csv.rejects.csv").read_text()
    assert rejects.splitlines() == [
        "line,field,error",
        *(f"{8 + i},value,'bad{i}' is not a number" for i in range(40)),
    ]


async def test_an_ingest_hands_every_reject_on_and_keeps_the_first(conn, feeds, monkeypatch):
    monkeypatch.setattr(pipeline, "FIRST_PIECE_BYTES", 300)
    monkeypatch.setattr(pipeline, "PIECE_BYTES", 600)
    heard: list[list] = []
    body = (HEADER + "".join(map(BAD.format, range(40)))).encode()
    report = await pipeline.ingest(
        conn,
        feeds["air"],
        body,
        resolution=10,
        bucket_seconds=3600,
        keep_rejects=3,
        on_rejects=heard.append,
    )
    assert [r.line for r in report.rejected] == [2, 3, 4]
    assert report.rejected_total == 40
    assert len(heard) > 4  # a piece at a time
    assert [r.line for piece in heard for r in piece] == list(range(2, 42))


def test_a_failed_file_leaves_no_rejects_file(cli_env: Path, monkeypatch):
    monkeypatch.setattr(pipeline, "FIRST_PIECE_BYTES", 50)  # the bad row's piece comes first
    monkeypatch.setattr(pipeline, "PIECE_BYTES", 100)
    good = "S1,9.52,47.14,2026-11-02T09:00:00Z,no2,1,\n"
    source = cli_env / "late.csv"
    source.write_text(HEADER + BAD.format(0) + good + "x" * (2 << 20) + good[2:])
    result = runner.invoke(app, ["ingest", "air", str(source)])
    assert result.exit_code == 1
    output = result.output.replace("\n", "")
    assert "late.csv: nothing stored: line 4: field 'sensor_id' is longer than 1 MiB" in output
    assert not (cli_env / "state" / "rejects" / "late.csv.rejects.csv").exists()


def test_malformed_file_is_an_error_not_a_traceback(cli_env: Path):
    source = cli_env / "garbage.csv"
    source.write_bytes(b"\x00\xff\x00garbage")
    result = runner.invoke(app, ["ingest", "air", str(source)])
    assert result.exit_code == 1
    assert "nothing stored: the file is binary data, not text" in result.output
    assert "Traceback" not in result.output


def test_unknown_feed(cli_env: Path):
    source = cli_env / "x.csv"
    source.write_bytes(to_csv(air_rows(hours=1)))
    result = runner.invoke(app, ["ingest", "water", str(source)])
    assert result.exit_code == 1
    assert "feed 'water' not found" in result.output


def test_demo_loads_every_sample_and_a_rerun_adds_nothing(cli_env: Path):
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "traffic.csv → traffic: read 15120, loaded 15120" in first.output
    assert "energy_meters.csv → energy: read 10080, loaded 10080" in first.output
    assert "Vaduz: time zone Europe/Vaduz, EPSG:32632, 100 m cells, 3600 s steps" in first.output
    assert "│ roads     │" in first.output and "│ 605  │ 605  │" in first.output
    assert "observed no2 nowcast layer: http://127.0.0.1:8000/layers/" in first.output
    modelled = "modelled baseline (traffic air quality, building energy): "
    assert modelled in first.output
    second = runner.invoke(app, ["demo", "--no-serve"])
    assert "traffic.csv → traffic: read 15120, loaded 0, duplicates 15120" in second.output
    layer = first.output.split(modelled)[1].split()[0]
    assert layer in second.output  # the same data and models: the same layer, not recomputed


def test_demo_samples_are_found_by_feed_prefix():
    samples = demo_samples(ROOT / "sensors")
    assert {feed: [p.name for p in paths] for feed, paths in samples.items()} == {
        "air": ["air.ndjson", "air_bus.csv"],
        "energy": ["energy_meters.csv"],
        "traffic": ["traffic.csv"],
    }


def test_db_status_with_an_external_database(cli_env: Path, settings):
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 0
    assert f"external database: {settings.database.database_url}" in result.output


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    for command in ("db", "ingest", "serve", "demo", "layer", "scenario", "deadletter"):
        assert command in result.output


def test_db_status_of_the_embedded_cluster(monkeypatch):
    monkeypatch.delenv("CITYTWIN_DATABASE_URL", raising=False)
    if Settings().database.database_url:
        pytest.skip("an external database is configured (.env)")
    result = runner.invoke(app, ["db", "status"])
    assert result.exit_code == 0  # the session fixture started it
    assert "running at postgresql://citytwin@127.0.0.1:" in result.output


def test_deadletter_list_and_replay_of_an_unknown_letter(cli_env: Path):
    listed = runner.invoke(app, ["deadletter", "list"])
    assert listed.exit_code == 0, listed.output
    assert "0 dead letters" in listed.output
    missing = runner.invoke(app, ["deadletter", "replay", "99"])
    assert missing.exit_code == 1
    assert "dead letter 99 not found" in missing.output
