"""A bus on the demo city's Tuesday is left out of the air model's background, calibration and
skill, and the baseline's provenance names it with the reason."""

import pytest

from citytwin.layers.store import LayerStore
from citytwin.scenarios import run as scenario_run
from citytwin.services.ingest import ingest
from citytwin.sim.mobile_sensors import REASON
from tests.factories import bus_rows, to_csv
from tests.scenarios.conftest import run_text

pytestmark = pytest.mark.usefixtures("demo_city")
HOURS = 6
AIR = "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-03T06:00:00Z, variables: [no2]}"


async def test_a_bus_is_left_out_of_the_air_model_and_named(pool, settings, feeds, tmp_path):
    async with pool.acquire() as conn:
        report = await ingest(
            conn,
            feeds["air"],
            to_csv(bus_rows("2026-11-03T00:00:00Z", HOURS)),
            encoding="csv",
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
        )
        assert report.loaded == HOURS * 6
        assert await conn.fetchval("SELECT mobile FROM sensors WHERE external_id = 'BUS9'")
    store = LayerStore(tmp_path)
    result, row = await run_text(pool, settings, f"name: bus\n{AIR}\ninterventions: []\n", store)
    assert row["status"] == "succeeded", row["error"]
    provenance = store.provenance(result.baseline)
    assert provenance.parameters["excluded_sensors"] == {"mobile": ["air:BUS9"], "reason": REASON}
    fit = scenario_run.stored_calibrations(store, result.baseline)["traffic-air-quality"]["no2"]
    assert fit["n"] == 20 * HOURS  # the 20 stations every hour, no bus hour
    stations = fit["leave_one_out"]["methods"]["citytwin"]["stations"]
    assert len(stations) == 20 and "air:BUS9" not in {s["sensor"] for s in stations}
