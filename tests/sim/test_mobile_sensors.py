"""Mobile sensors are left out of the models, and named with the reason: a bus that reported
far off the fixed stations' values changes no nowcast value, and its layer says it was left
out (the scenario baseline: tests/scenarios/test_mobile_baseline.py)."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from citytwin.layers.store import LayerStore
from citytwin.services.nowcast import NowcastRequest, run_nowcast
from citytwin.services.validation import validation
from citytwin.sim.mobile_sensors import REASON, excluded_sensors, fixed_sensors
from tests.city import demo_base
from tests.factories import air_rows, bus_rows, post_readings

START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 2, 6, tzinfo=UTC)


def test_fixed_sensors_keep_their_rows_and_name_the_mobile_ones():
    means = pd.DataFrame(
        {"sensor": ["air:b", "air:a", "air:s", "air:b"], "value": [1.0, 2.0, 3.0, 4.0],
         "mobile": [True, True, False, True]}
    )  # fmt: skip
    fixed, mobile = fixed_sensors(means)
    assert fixed["sensor"].tolist() == ["air:s"] and fixed["value"].tolist() == [3.0]
    assert mobile == ["air:a", "air:b"]
    assert excluded_sensors(mobile) == {
        "excluded_sensors": {"mobile": ["air:a", "air:b"], "reason": REASON}
    }
    assert excluded_sensors([]) == {}


async def test_a_bus_changes_no_nowcast_value_and_is_named_in_its_provenance(
    client, conn, tmp_path
):
    await post_readings(client, air_rows(hours=6))
    store = LayerStore(tmp_path)
    request = NowcastRequest("no2", START, END, method="idw")
    city = demo_base().city
    without = await run_nowcast(conn, store, city, request)
    await post_readings(client, bus_rows())
    assert await conn.fetchval("SELECT mobile FROM sensors WHERE external_id = 'BUS9'")
    with_bus = await run_nowcast(conn, store, city, request)
    assert with_bus != without  # what was offered differs, so the layer's identity does
    np.testing.assert_array_equal(store.open(with_bus)["no2"], store.open(without)["no2"])
    provenance = store.provenance(with_bus)
    assert provenance.parameters["excluded_sensors"] == {"mobile": ["air:BUS9"], "reason": REASON}
    assert "excluded_sensors" not in store.provenance(without).parameters
    stations = provenance.skill["no2"]["methods"]["citytwin"]["stations"]
    assert [s["sensor"] for s in stations] == ["air:S1", "air:S2", "air:S3"]
    variables = dict(await conn.fetch("SELECT name, id FROM variables"))
    answer = await validation(conn, store, with_bus, variables)
    assert answer["excluded_sensors"]["mobile"] == ["air:BUS9"]
    sensors = answer["in_sample"]["variables"]["no2"]["sensors"]
    assert [s["sensor"] for s in sensors] == ["air:S1", "air:S2", "air:S3"]
