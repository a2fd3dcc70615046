"""`citytwin layer nowcast`."""

import pytest
from typer.testing import CliRunner

from citytwin import cli
from citytwin.layers.store import LayerStore
from tests.factories import air_rows, to_csv

runner = CliRunner()
SPAN = ["--start", "2026-11-02T00:00:00Z", "--end", "2026-11-02T06:00:00Z"]


@pytest.fixture
def cli_env(monkeypatch, settings, conn, tmp_path):
    monkeypatch.setenv("CITYTWIN_DATABASE_URL", settings.database.database_url)
    monkeypatch.setenv("CITYTWIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CITYTWIN_LAYER_STORE", str(tmp_path / "layers"))
    return tmp_path


def test_nowcast_prints_the_layer_id(cli_env):
    source = cli_env / "air.csv"
    source.write_bytes(to_csv(air_rows(hours=6)))
    assert runner.invoke(cli.app, ["ingest", "air", str(source)]).exit_code == 0
    result = runner.invoke(cli.app, ["layer", "nowcast", "no2", *SPAN, "--cell-size", "200"])
    assert result.exit_code == 0, result.output
    layer_id = result.stdout.strip()
    store = LayerStore(cli_env / "layers")
    assert store.list() == [layer_id]
    assert dict(store.open(layer_id).sizes) == {"time": 6, "y": 60, "x": 46}
    assert store.provenance(layer_id).parameters["grid"]["cell_size"] == 200.0
    again = runner.invoke(cli.app, ["layer", "nowcast", "no2", *SPAN, "--cell-size", "200"])
    assert again.stdout.strip() == layer_id
    report = runner.invoke(cli.app, ["layer", "validate", layer_id])
    assert report.exit_code == 0, report.output
    lines = report.stdout.splitlines()
    assert lines[0].split() == ["variable", "method", "n", "bias", "rmse", "r", "mqi90"]
    # three stations x six hours, each held out; then the in-sample fit, labelled
    assert [line.split()[:3] for line in lines[1:]] == [
        ["no2", "citytwin", "18"],
        ["no2", "mean_of_others", "18"],
        ["no2", "nearest", "18"],
        ["no2", "in_sample", "18"],
    ]
    whole = runner.invoke(cli.app, ["layer", "validate", layer_id, "--json"])
    assert '"scheme":"leave-one-station-out"' in whole.stdout
    unknown = runner.invoke(cli.app, ["layer", "validate", "0" * 32])
    assert unknown.exit_code == 1 and "not found" in unknown.output


def test_nowcast_errors_name_the_parameter(cli_env):
    method = runner.invoke(cli.app, ["layer", "nowcast", "no2", *SPAN, "--method", "spline"])
    assert method.exit_code == 1 and "method: unknown method 'spline'" in method.output
    tiny = runner.invoke(cli.app, ["layer", "nowcast", "no2", *SPAN, "--cell-size", "0.5"])
    assert tiny.exit_code == 1 and "cell_size:" in tiny.output
    empty = runner.invoke(cli.app, ["layer", "nowcast", "no2", *SPAN])  # nothing stored
    assert empty.exit_code == 1 and "start: no no2 readings" in empty.output
    backwards = runner.invoke(
        cli.app, ["layer", "nowcast", "no2", "--start", "2026-11-03", "--end", "2026-11-02"]
    )
    assert backwards.exit_code == 1 and "end: must be after start" in backwards.output
