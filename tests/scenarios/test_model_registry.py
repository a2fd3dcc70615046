"""A model joins the scenarios by registering itself: no if-chain learns its name."""

import numpy as np
import pandas as pd
import pytest

from citytwin.layers.store import LayerStore
from citytwin.scenarios.models import ModelOutput, needed_readings, registry
from citytwin.scenarios.spec import parse_scenario
from tests.scenarios.conftest import run_text

pytestmark = pytest.mark.usefixtures("demo_city")
TOY_BASELINE = (
    "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-03T03:00:00Z, variables: [city_no2]}"
)


class NoParameters:
    def as_dict(self) -> dict:
        return {}


def city_mean(inputs, parameters, run) -> ModelOutput:
    """The toy model: each step's mean NO2 of the sensors, the same in every cell."""
    means = inputs.readings["no2"].groupby("time")["value"].mean()
    per_step = means.reindex(pd.to_datetime(inputs.times).tz_localize("UTC")).to_numpy()
    grid = np.broadcast_to(per_step[:, None, None], (len(inputs.times), *inputs.grid.shape))
    return ModelOutput({"city_no2": grid.astype(np.float32)}, {"stations": 20})


@pytest.fixture
def toy_model(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    return registry.register(
        registry.Model(
            name="city-mean",
            variables={"city_no2": ("µg/m³", "mean NO2 of the sensors", "time: mean")},
            reads=("no2",),
            parameters=NoParameters,
            run=city_mean,
        )
    )


def test_a_registered_model_is_known_to_the_scenario_spec(toy_model):
    assert needed_readings(("city_no2",)) == ("no2",)
    assert parse_scenario(f"name: t\n{TOY_BASELINE}\n").baseline.variables == ("city_no2",)
    with pytest.raises(ValueError, match="unknown variable 'city_no3'"):
        parse_scenario(f"name: t\n{TOY_BASELINE.replace('city_no2', 'city_no3')}\n")


def test_a_second_model_cannot_take_a_registered_variable(toy_model):
    with pytest.raises(ValueError, match="registered already"):
        registry.register(toy_model.__class__(**{**toy_model.__dict__, "name": "other"}))


async def test_a_registered_model_runs_as_a_baseline_layer(toy_model, pool, settings, tmp_path):
    store = LayerStore(tmp_path)
    result, row = await run_text(pool, settings, f"name: Toy\n{TOY_BASELINE}\n", store)
    assert row["status"] == "succeeded"
    layer = store.open(result.layer)
    assert store.provenance(result.layer).model == "city-mean"
    async with pool.acquire() as conn:
        expected = await conn.fetch(
            "SELECT date_trunc('hour', time) AS hour, avg(step) AS mean FROM ("
            "  SELECT sensor_id, date_trunc('hour', time) AS time, avg(value) AS step"
            "  FROM readings JOIN variables v ON v.id = variable_id WHERE v.name = 'no2'"
            "  AND time >= '2026-11-03T00:00Z' AND time < '2026-11-03T03:00Z'"
            "  GROUP BY 1, 2) s GROUP BY 1 ORDER BY 1"
        )
    values = layer["city_no2"].values
    assert values.shape[0] == 3
    for step, row in enumerate(expected):
        assert values[step, 0, 0] == pytest.approx(row["mean"], rel=1e-5)
        assert np.all(values[step] == values[step, 0, 0])
