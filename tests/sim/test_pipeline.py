"""The nowcast from stored readings: step means from PostGIS, run, reuse, refusals."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from citytwin.db.queries.layers import step_means, variable_unit
from citytwin.errors import InvalidParameter
from citytwin.layers.provenance import hash_readings
from citytwin.layers.store import LayerStore
from citytwin.services.nowcast import NowcastRequest, run_nowcast
from tests.city import demo_base
from tests.factories import STATIONS, air_rows, post_readings

START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
VADUZ = demo_base().city


def extra_rows() -> pd.DataFrame:
    """S1 again at 00:30 (no2 = 100), and an o3 value beyond its range (stored flagged)."""
    lon, lat = STATIONS["S1"]
    return pd.DataFrame(
        {
            "sensor_id": ["S1", "S1"],
            "lon": [lon, lon],
            "lat": [lat, lat],
            "time": ["2026-11-02T00:30:00Z", "2026-11-02T01:00:00Z"],
            "variable": ["no2", "o3"],
            "value": [100.0, 900.0],
            "unit": ["µg/m³", "µg/m³"],
        }
    )


async def test_step_means_per_sensor_and_hour(client, conn):
    rows = air_rows(hours=24)
    await post_readings(client, rows)
    await post_readings(client, extra_rows())
    variable_id, unit = await variable_unit(conn, "no2")
    assert unit == "µg/m³"
    means = await step_means(conn, variable_id, START, END, 3600)
    assert len(means) == 3 * 24
    assert means["sensor"].unique().tolist() == ["air:S1", "air:S2", "air:S3"]
    first = rows[(rows["variable"] == "no2") & (rows["sensor_id"] == "S1")].iloc[0]
    s1 = means[means["sensor"] == "air:S1"].iloc[0]
    assert s1["time"] == pd.Timestamp("2026-11-02T00:00:00Z")
    assert (s1["count"], s1["value"]) == (2, pytest.approx((first["value"] + 100.0) / 2))
    assert (s1["lon"], s1["lat"]) == pytest.approx(STATIONS["S1"])
    o3_id, _ = await variable_unit(conn, "o3")
    assert (await step_means(conn, o3_id, START, END, 3600)).empty  # the flagged value is left out


async def test_unknown_variable_names_the_parameter(conn):
    with pytest.raises(InvalidParameter) as error:
        await variable_unit(conn, "noise")
    assert error.value.parameter == "variable"
    assert "no2" in error.value.message


async def test_a_run_is_stored_once_and_reused(client, conn, tmp_path):
    await post_readings(client, air_rows(hours=24))
    store = LayerStore(tmp_path)
    calls = []
    request = NowcastRequest("pm25", START, END)
    layer_id = await run_nowcast(
        conn, store, VADUZ, request, on_progress=lambda done, total: calls.append(done)
    )
    assert calls, "the first run computes"
    provenance = store.provenance(layer_id)
    assert (provenance.input_start, provenance.input_end) == (START, END)
    variable_id, _ = await variable_unit(conn, "pm25")
    assert provenance.inputs_hash == hash_readings(
        await step_means(conn, variable_id, START, END, 3600)
    )
    layer = store.open(layer_id)
    assert dict(layer.sizes) == {"time": 24, "y": 119, "x": 90}
    assert layer.attrs["title"] == "Observed nowcast of pm25"
    assert sorted(layer.data_vars) == ["kriging_standard_deviation", "pm25"]
    assert provenance.model == "observed-nowcast-kriging"
    # Three stations without a site type: every hour takes the declared fallbacks, so each
    # held-out station is estimated by the mean of the other two, as the baseline.
    hours = [f"2026-11-02T{h:02d}:00:00Z" for h in range(24)]
    assert provenance.fallbacks == {
        "default-variogram": hours,  # three station pairs fit no variogram
        "drift-unknown": hours,
        "fewer-stations": hours,
    }
    skill = provenance.skill["pm25"]
    assert (skill["scheme"], skill["averaging"]) == ("leave-one-station-out", "day")
    assert list(skill["methods"]) == ["citytwin", "mean_of_others", "nearest"]
    ours, mean = skill["methods"]["citytwin"], skill["methods"]["mean_of_others"]
    assert ours["overall"]["n"] == 3  # one day at three stations
    assert ours["overall"]["rmse"] == pytest.approx(mean["overall"]["rmse"])
    assert [s["sensor"] for s in ours["stations"]] == ["air:S1", "air:S2", "air:S3"]
    calls.clear()
    again = await run_nowcast(conn, store, VADUZ, request, on_progress=lambda d, t: calls.append(d))
    assert again == layer_id
    assert calls == [], "the second run reuses the stored layer"


async def test_refusals_come_before_any_work(conn, tmp_path):
    store = LayerStore(tmp_path)
    with pytest.raises(InvalidParameter) as error:
        await run_nowcast(conn, store, VADUZ, NowcastRequest("no2", START, END, cell_size=1))
    assert error.value.parameter == "cell_size"
    with pytest.raises(InvalidParameter) as error:
        await run_nowcast(conn, store, VADUZ, NowcastRequest("no2", START, END))  # empty store
    assert error.value.parameter == "start"
    assert "no no2 readings between 2026-11-02T00:00:00Z and 2026-11-03T00:00:00Z" in str(
        error.value
    )
    assert store.list() == []
