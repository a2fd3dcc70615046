"""`/scenarios`: planners' what-if runs, started in the background and followed to their layers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, PoolDep, ServiceWriterDep, SettingsDep, read_body
from citytwin.api.formats import json_response
from citytwin.api.pages import RecordLimitQuery, page_limit
from citytwin.core.limits import INT64_MAX
from citytwin.db import scenario_runs
from citytwin.scenarios.jobs import ScenarioJobs
from citytwin.scenarios.spec import parse_scenario

router = APIRouter(tags=["scenarios"])
RunId = Annotated[str, Path(description="Run id (32 hex characters).")]


async def get_jobs(request: Request) -> ScenarioJobs:
    """The app's scenario jobs."""
    return request.app.state.scenario_jobs


JobsDep = Annotated[ScenarioJobs, Depends(get_jobs)]


def _answer(run: dict) -> dict:
    """A run with its progress in percent and links to its layers."""
    answer = {key: value for key, value in run.items() if key != "progress"}
    answer["progress"] = round(100 * run["progress"], 1)
    links = [{"rel": "self", "href": f"/scenarios/{run['id']}"}]
    for name in ("layer", "baseline", "diff"):
        if run.get(name):
            links.append({"rel": name, "href": f"/layers/{run[name]}"})
    answer["links"] = links
    return answer


@router.post("/scenarios", summary="Start a scenario run", status_code=202)
async def post_scenario(
    request: Request, pool: PoolDep, settings: SettingsDep, jobs: JobsDep, _key: ServiceWriterDep
) -> Response:
    """A scenario as YAML or JSON (see docs/scenarios.md). Everything is checked before the
    run starts (400 naming the field at fault); then 202 with the run, which goes on in the
    background: follow it at `Location`."""
    body = await read_body(
        request, min(settings.api.scenario_max_bytes, settings.api.max_body_bytes)
    )
    scenario = parse_scenario(body, settings.simulation.scenario_max_days)
    async with pool.acquire() as conn:
        run_id = await jobs.submit(conn, scenario)
        run = await scenario_runs.get_run(conn, run_id)
    return json_response(_answer(run), 202, headers={"Location": f"/scenarios/{run_id}"})


@router.get("/scenarios", summary="Scenario runs, newest first")
async def list_scenarios(
    conn: ConnDep,
    settings: SettingsDep,
    limit: RecordLimitQuery = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    """Every run with its status, progress, stage, error and layers."""
    limit = page_limit(limit, settings.api.record_page_size)
    total, runs = await scenario_runs.list_runs(conn, limit, offset)
    return json_response({"total": total, "runs": [_answer(run) for run in runs]})


@router.get("/scenarios/{run_id}", summary="One scenario run")
async def get_scenario(conn: ConnDep, run_id: RunId) -> Response:
    """Status (queued, running, succeeded, failed, cancelled), progress in percent, stage,
    error message, and the ids of the scenario, baseline and difference layers."""
    return json_response(_answer(await scenario_runs.get_run(conn, run_id)))


@router.post("/scenarios/{run_id}/cancel", summary="Cancel a scenario run", status_code=202)
async def cancel_scenario(
    conn: ConnDep, jobs: JobsDep, _key: ServiceWriterDep, run_id: RunId
) -> Response:
    """Ask a running run to stop: it ends `cancelled` at its next step, leaving no layer of
    its own behind. 409 if it has already ended."""
    await jobs.cancel(conn, run_id)
    return json_response(_answer(await scenario_runs.get_run(conn, run_id)), 202)
