"""`/scenarios` and `citytwin scenario`: start, follow, list, cancel, refuse."""

import asyncio

import httpx
import pytest
from typer.testing import CliRunner

from citytwin import cli
from citytwin.api.app import create_app
from citytwin.layers.store import LayerStore
from tests.asgi import asgi_client
from tests.factories import API_KEY
from tests.scenarios.conftest import CENTRE, scenario_text

pytestmark = pytest.mark.usefixtures("demo_city")
KEY = {"X-API-Key": API_KEY}
HALF_TRAFFIC = f"{{geometry: '{CENTRE}', effect: {{type: traffic_volume, factor: 0.5}}}}"


@pytest.fixture(scope="module")
async def scenario_client(settings, tmp_path_factory, demo_city):
    layers = tmp_path_factory.mktemp("scenario-layers")
    app = create_app(settings.updated(layer_store=str(layers)))
    async with asgi_client(app) as client:
        yield client, app


async def finished(client: httpx.AsyncClient, location: str) -> dict:
    for _ in range(600):
        run = (await client.get(location)).json()
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"{location} still running")


async def test_a_planner_starts_follows_and_queries_a_scenario(scenario_client):
    client, _ = scenario_client
    body = scenario_text(HALF_TRAFFIC, name="Centre at half traffic")
    answer = await client.post("/scenarios", content=body, headers=KEY)
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert answer.headers["Location"] == f"/scenarios/{started['id']}"
    assert started["status"] in ("queued", "running")
    assert started["scenario"]["interventions"][0]["effect"] == {
        "type": "traffic_volume",
        "factor": 0.5,
    }
    run = await finished(client, answer.headers["Location"])
    assert (run["status"], run["progress"], run["stage"], run["error"]) == (
        "succeeded",
        100.0,
        "done",
        None,
    )
    rels = {link["rel"]: link["href"] for link in run["links"]}
    assert rels["diff"] == f"/layers/{run['diff']}"
    listed = (await client.get("/scenarios")).json()
    assert listed["runs"][0]["id"] == run["id"]
    diff = (await client.get(f"/layers/{run['diff']}")).json()
    assert diff["provenance"]["model"] == "diff"
    point = await client.get(f"/layers/{run['diff']}/point?lon=9.5215&lat=47.1397&variable=no2")
    assert point.status_code == 200
    assert min(step["value"] for step in point.json()["series"]) < -1.0
    cells = await client.get(f"/layers/{run['layer']}/cells?variable=no2&resolution=8")
    assert cells.status_code == 200 and cells.json()["features"]
    again = await client.post(f"/scenarios/{run['id']}/cancel", headers=KEY)
    assert again.status_code == 409
    assert again.json()["detail"] == f"run {run['id']} has already ended (succeeded)"


async def test_a_running_scenario_can_be_cancelled(scenario_client, monkeypatch):
    client, app = scenario_client
    from citytwin.scenarios import run as scenario_run

    original = scenario_run.simulate
    loop = asyncio.get_running_loop()
    started_work = asyncio.Event()

    def waits_for_cancel(*args, **kwargs):
        """The baseline model, entered only once the run has been cancelled."""
        control = args[3].control
        loop.call_soon_threadsafe(started_work.set)
        assert control.cancelled.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(scenario_run, "simulate", waits_for_cancel)
    body = scenario_text(HALF_TRAFFIC, name="Never finished")
    started = (await client.post("/scenarios", content=body, headers=KEY)).json()
    await started_work.wait()
    cancel = await client.post(f"/scenarios/{started['id']}/cancel", headers=KEY)
    assert cancel.status_code == 202
    run = await finished(client, f"/scenarios/{started['id']}")
    assert run["status"] == "cancelled"
    assert run["layer"] is None
    store: LayerStore = app.state.layer_store
    names = {store.provenance(layer).scenario for layer in store.list()}
    assert "Never finished" not in names


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (
            scenario_text("{effect: {type: traffic_volume, factor: 0.5}}"),
            "interventions[0].geometry",
        ),
        (
            scenario_text(f"{{geometry: '{CENTRE}', effect: {{type: heat_pump}}}}"),
            "interventions[0].effect.share",
        ),
        ("name: x\nbaseline: {start: 2026-11-03, end: 2026-11-02}\n", "baseline.end"),
        ("[1, 2", "scenario"),
    ],
)
async def test_bad_scenarios_are_400_naming_the_field(scenario_client, body, parameter):
    client, _ = scenario_client
    answer = await client.post("/scenarios", content=body, headers=KEY)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


async def test_scenarios_need_a_key_and_unknown_runs_are_404(scenario_client):
    client, _ = scenario_client
    assert (await client.post("/scenarios", content=scenario_text())).status_code == 401
    missing = await client.get("/scenarios/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404


def test_the_cli_runs_a_scenario_file_and_lists_it(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("CITYTWIN_DATABASE_URL", settings.database.database_url)
    monkeypatch.setenv("CITYTWIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CITYTWIN_LAYER_STORE", str(tmp_path / "layers"))
    path = tmp_path / "centre.yaml"
    path.write_text(scenario_text(HALF_TRAFFIC, name="From the CLI"))
    runner = CliRunner()
    result = runner.invoke(cli.app, ["scenario", "run", str(path)])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert lines["#0 (traffic_volume)"].strip() == "113 roads, 24 steps"
    store = LayerStore(tmp_path / "layers")
    assert sorted(store.list()) == sorted(
        lines[name].strip() for name in ("layer", "baseline", "diff")
    )
    listed = runner.invoke(cli.app, ["scenario", "list"])
    assert "succeeded" in listed.stdout and "From the CLI" in listed.stdout
    path.write_text(scenario_text("{effect: {type: road_closure}}"))
    refused = runner.invoke(cli.app, ["scenario", "run", str(path)])
    assert refused.exit_code == 1
    assert "interventions[0].geometry: a road_closure needs a polygon or lines" in refused.output


async def test_every_error_of_a_scenario_comes_in_one_answer(scenario_client):
    client, _ = scenario_client
    body = scenario_text(
        f"{{geometry: '{CENTRE}', effect: {{type: traffic_volume, factor: -1}}}}",
        "{geometry: 'POINT(9.5 47.1)', effect: {type: heat_pump, share: 2}}",
    )
    answer = await client.post("/scenarios", content=body, headers=KEY)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": "InvalidParameters",
        "parameter": "interventions[0].effect.factor",
        "detail": "Input should be greater than or equal to 0",
        "errors": [
            {
                "parameter": "interventions[0].effect.factor",
                "detail": "Input should be greater than or equal to 0",
            },
            {
                "parameter": "interventions[1].effect.share",
                "detail": "Input should be less than or equal to 1",
            },
        ],
    }
    # Fields right, then windows and geometries are checked, every one of them.
    body = scenario_text(
        f"{{geometry: '{CENTRE}', start: 2026-11-05T00:00:00Z, effect: {{type: road_closure}}}}",
        "{geometry: 'POINT(9.5 47.1)', effect: {type: road_closure}}",
    )
    answer = await client.post("/scenarios", content=body, headers=KEY)
    assert answer.status_code == 400, answer.text
    errors = answer.json()["errors"]
    assert [e["parameter"] for e in errors] == [
        "interventions[0].start",
        "interventions[1].geometry",
    ]
    assert "must be a forward span inside the baseline" in errors[0]["detail"]
    assert "not Point" in errors[1]["detail"]
