"""The modelled baseline against the nowcast on the demo week, left one station out, through the
validation service (`citytwin layer validate`'s answer): the demo's sensors come from a truth
the model did not generate (sensors/air_truth.py, tests/test_demo_truth.py)."""

from datetime import UTC, datetime

import numpy as np
import pytest

from citytwin.core.city import with_settings
from citytwin.db.city import require_city
from citytwin.db.queries.layers import variable_unit
from citytwin.layers.store import LayerStore
from citytwin.scenarios.run import stored_calibrations
from citytwin.services.nowcast import NowcastRequest, run_nowcast
from citytwin.services.validation import validation
from tests.scenarios.conftest import run_text

pytestmark = pytest.mark.usefixtures("demo_city")
WEEK = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))
AIR_WEEK = (
    "name: Demo week\n"
    "baseline: {start: 2026-11-02T00:00:00Z, end: 2026-11-09T00:00:00Z,\n"
    "  variables: [no2, pm25, pm10]}\n"
    "interventions: []\n"
)


def pooled_rmse(method: dict, sensors: set[str]) -> float:
    """RMSE over the hours of `sensors`, from the per-station scores of one method."""
    rows = [s for s in method["stations"] if s["sensor"] in sensors]
    squares = sum(s["n"] * s["rmse"] ** 2 for s in rows)
    return float(np.sqrt(squares / sum(s["n"] for s in rows)))


async def test_traffic_model_beats_the_nowcast_left_one_station_out(pool, settings, tmp_path):
    store = LayerStore(tmp_path)
    baseline, _ = await run_text(pool, settings, AIR_WEEK, store)
    async with pool.acquire() as conn:
        city = with_settings(await require_city(conn), settings)
        nowcast = await run_nowcast(conn, store, city, NowcastRequest("no2", *WEEK))
        variable_id, _ = await variable_unit(conn, "no2")
        model = await validation(conn, store, baseline.layer, {"no2": variable_id})
        observed = await validation(conn, store, nowcast, {"no2": variable_id})
    traffic = model["leave_one_out"]["no2"]["methods"]
    kriging = observed["leave_one_out"]["no2"]["methods"]
    sensors = {s["sensor"] for s in traffic["citytwin"]["stations"]}
    figures = {
        "traffic": pooled_rmse(traffic["citytwin"], sensors),
        "raw": pooled_rmse(traffic["uncalibrated"], sensors),
        "background": pooled_rmse(traffic["background_only"], sensors),
        "nowcast": pooled_rmse(kriging["citytwin"], sensors),
        "mean_of_others": pooled_rmse(kriging["mean_of_others"], sensors),
        "nearest": pooled_rmse(kriging["nearest"], sensors),
    }
    # Every station is a calibration station (none declares its site type), each hour held out.
    assert len(sensors) == 20 and traffic["citytwin"]["overall"]["n"] == 20 * 168
    assert figures == pytest.approx(
        {
            "traffic": 4.49,
            "raw": 4.42,
            "background": 7.00,
            "nowcast": 5.87,
            "mean_of_others": 5.78,
            "nearest": 8.04,
        },
        abs=0.01,
    )
    assert figures["traffic"] < min(figures["nowcast"], figures["mean_of_others"])
    assert traffic["citytwin"]["overall"]["mqi90"] == pytest.approx(0.32, abs=0.01)
    # The table of docs/models.md: α and the daily PM scores of the model and its baselines.
    air = stored_calibrations(store, baseline.layer)["traffic-air-quality"]
    # NO2 from the NOx by the ozone the stations measure, every hour: α needs no note.
    assert air["no2"]["chemistry"]["hours"] == {
        "ozone-limiting-method": 168,
        "derwent-middleton-1996": 0,
    }
    assert air["no2"]["factor_note"] is None
    table = {
        name: [round(fit["factor"], 1)]
        + [
            round(fit["leave_one_out"]["methods"][method]["overall"]["rmse"], 2)
            for method in (
                "citytwin",
                "uncalibrated",
                "background_only",
                "mean_of_others",
                "nearest",
            )
        ]
        for name, fit in air.items()
    }
    assert table == {
        "no2": [1.1, 4.49, 4.42, 7.0, 5.78, 8.04],
        "pm25": [3.7, 0.91, 1.17, 1.32, 0.96, 1.29],
        "pm10": [3.3, 1.37, 2.03, 2.46, 1.9, 2.8],
    }
