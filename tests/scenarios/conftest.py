"""Scenario texts over the demo city's Tuesday, and running them as the service does."""

from citytwin.db import scenario_runs
from citytwin.scenarios.jobs import execute, prepare
from citytwin.scenarios.models import RunControl
from citytwin.scenarios.spec import parse_scenario

CENTRE = "POLYGON((9.5150 47.1330, 9.5300 47.1330, 9.5300 47.1450, 9.5150 47.1450, 9.5150 47.1330))"
DAY = "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z}"


def scenario_text(*interventions: str, name: str = "Test", baseline: str = DAY) -> str:
    """A scenario over the demo's Tuesday with the given YAML intervention items."""
    items = "".join(f"\n  - {item}" for item in interventions)
    return f"name: {name}\n{baseline}\ninterventions:{items or ' []'}\n"


async def run_text(pool, settings, text, store, control=None):
    """Prepare and execute a scenario text; (result, its stored run row)."""
    async with pool.acquire() as conn:
        prepared = await prepare(conn, parse_scenario(text), settings)
    result = await execute(pool, prepared, store, control or RunControl())
    async with pool.acquire() as conn:
        return result, await scenario_runs.get_run(conn, prepared.run_id)
