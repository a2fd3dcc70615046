"""`/layers/{id}/diff` (GET: computed, POST: stored with a key, under the store's quota) and
`/validation` (layer against sensors)."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import Transformer

from citytwin.core.grid import Grid
from citytwin.core.skill import FAIRMODE, scores
from citytwin.errors import InvalidParameter
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance
from citytwin.layers.selection import difference
from citytwin.layers.store import LayerStore
from citytwin.layers.validation import sample_at_sensors, validate
from citytwin.sim.nowcast import IdwParameters, time_steps
from tests.factories import API_KEY, STATIONS, air_rows, post_readings
from tests.layers.sample import sample_layer, serve

# The city grid of the demo boundary (as in test_api) and a day of known values on it.
CITY = Grid(32632, 100.0, 537_500.0, 5_226_900.0, nx=90, ny=119)
TIMES = time_steps(pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-03", tz="UTC"), 3600)
ROWS = air_rows(hours=24)
KEY = {"X-API-Key": API_KEY}


def known(t: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    return 30.0 + 2.0 * t + 0.1 * row - 0.05 * col


def known_layer(times: pd.DatetimeIndex = TIMES) -> tuple:
    t, row, col = np.meshgrid(
        np.arange(len(times)), np.arange(CITY.ny), np.arange(CITY.nx), indexing="ij"
    )
    layer = build_layer(
        CITY,
        times,
        [
            LayerVariable("no2", known(t, row, col).astype(np.float32), "µg/m³"),
            LayerVariable("nearest_sensor_distance", np.ones(t.shape, np.float32), "m"),
        ],
        attrs={"title": "known", "time_step_seconds": 3600},
    )
    provenance = Provenance(
        "known", {}, times[0].to_pydatetime(), times[-1].to_pydatetime(), "0" * 64
    )
    return layer, provenance


def by_hand() -> pd.DataFrame:
    """Each station's hourly no2 beside the known formula at its cell (computed apart)."""
    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    rows = []
    no2 = ROWS[ROWS["variable"] == "no2"]
    for sensor, (lon, lat) in STATIONS.items():
        x, y = to_utm.transform(lon, lat)
        col, row = int((x - 537_500) // 100), int((5_226_900 - y) // 100)
        for hour, value in enumerate(no2[no2["sensor_id"] == sensor]["value"]):
            modelled = float(np.float32(known(hour, row, col)))
            rows.append((f"air:{sensor}", value, modelled))
    return pd.DataFrame(rows, columns=["sensor", "observed", "modelled"])


def test_scores_by_hand():
    got = scores(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert got["n"] == 3
    assert got["bias"] == pytest.approx(1.0)
    assert got["rmse"] == pytest.approx(np.sqrt(5 / 3))
    assert got["r"] == pytest.approx(np.sqrt(3) / 2)
    assert scores(np.array([1.0]), np.array([2.0]))["r"] is None


def test_sampling_picks_the_cell_and_step():
    layer, _ = known_layer()
    lon, lat = CITY.lonlat
    means = pd.DataFrame(
        {
            "sensor": ["a", "a", "b", "off"],
            "lon": [lon[3, 4], lon[3, 4], lon[50, 60], 8.0],
            "lat": [lat[3, 4], lat[3, 4], lat[50, 60], 47.0],
            "time": pd.to_datetime(
                [
                    "2026-11-02T05:00Z",
                    "2026-11-03T00:00Z",
                    "2026-11-02T23:00Z",
                    "2026-11-02T01:00Z",
                ],
                utc=True,
            ),
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    samples = sample_at_sensors(layer, "no2", means)
    assert samples["sensor"].tolist() == ["a", "b"]  # after the span, and off the grid: dropped
    assert samples["modelled"].tolist() == [
        float(np.float32(known(5, 3, 4))),
        float(np.float32(known(23, 50, 60))),
    ]


def test_difference_is_a_minus_b():
    a, pa = sample_layer()
    b, pb = sample_layer(IdwParameters(power=1.0))
    layer, provenance = difference(a, b, pa.layer_id(), pb.layer_id())
    np.testing.assert_array_equal(layer["no2"].values, a["no2"].values - b["no2"].values)
    assert (provenance.model, provenance.parameters) == (
        "diff",
        {"a": pa.layer_id(), "b": pb.layer_id()},
    )
    again = difference(a, b, pa.layer_id(), pb.layer_id())[1]
    assert again.layer_id() == provenance.layer_id()
    with pytest.raises(InvalidParameter) as error:
        difference(a, known_layer()[0], "a", "b")
    assert error.value.parameter == "against"


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[LayerStore, dict[str, str]]:
    store = LayerStore(tmp_path_factory.mktemp("layers"))
    ids = {
        "a": store.write(*sample_layer()),
        "b": store.write(*sample_layer(IdwParameters(power=1.0))),
        "known": store.write(*known_layer()),
        "before": store.write(*known_layer(TIMES - pd.Timedelta(days=365 * 20))),
    }
    return store, ids


@pytest.fixture(scope="module")
async def diff_client(settings, pool, stored):
    async with serve(settings, stored[0]) as client:
        yield client


async def test_get_diff_answers_the_difference_and_stores_nothing(diff_client, stored):
    store, ids = stored
    before = store.list()
    answer = await diff_client.get(f"/layers/{ids['a']}/diff", params={"against": ids["b"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-netcdf"
    diff = xr.open_dataset(io.BytesIO(answer.content), engine="h5netcdf", decode_coords="all")
    a, b = store.open(ids["a"]), store.open(ids["b"])
    assert sorted(diff.data_vars) == ["nearest_sensor_distance", "no2"]
    np.testing.assert_array_equal(diff["no2"].values, a["no2"].values - b["no2"].values)
    coverage = await diff_client.get(
        f"/layers/{ids['a']}/diff", params={"against": ids["b"], "format": "coveragejson"}
    )
    assert coverage.headers["content-type"] == "application/prs.coverage+json"
    values = coverage.json()["ranges"]["no2"]["values"]
    np.testing.assert_allclose(
        np.array(values, dtype=float), (a["no2"].values - b["no2"].values).ravel(), rtol=1e-6
    )
    assert store.list() == before  # a read writes nothing
    assert not (Path(store.url) / "_incoming").exists() or not any(
        (Path(store.url) / "_incoming").iterdir()
    )


async def test_post_diff_stores_a_layer_once_with_a_key(diff_client, stored):
    store, ids = stored
    url = f"/layers/{ids['a']}/diff"
    refused = await diff_client.post(url, params={"against": ids["b"]})
    assert (refused.status_code, refused.json()["detail"]) == (401, "X-API-Key header required")
    answer = await diff_client.post(url, params={"against": ids["b"]}, headers=KEY)
    assert answer.status_code == 201, answer.text
    meta = answer.json()
    assert answer.headers["location"] == f"/layers/{meta['id']}"
    assert meta["provenance"]["model"] == "diff"
    assert meta["provenance"]["parameters"] == {"a": ids["a"], "b": ids["b"]}
    assert [v["name"] for v in meta["variables"]] == ["no2", "nearest_sensor_distance"]
    diff = store.open(meta["id"])
    a, b = store.open(ids["a"]), store.open(ids["b"])
    np.testing.assert_array_equal(diff["no2"].values, a["no2"].values - b["no2"].values)
    # The pair is the key: sent again, nothing more is stored and the same layer answers.
    layers = store.list()
    again = await diff_client.post(url, params={"against": ids["b"]}, headers=KEY)
    assert (again.status_code, again.json()["id"]) == (200, meta["id"])
    assert store.list() == layers
    listed = await diff_client.get(f"/layers/{meta['id']}")  # a layer like any other
    assert listed.status_code == 200
    assert (listed.json()["id"], listed.json()["provenance"]) == (meta["id"], meta["provenance"])


async def test_post_diff_past_the_quota_is_507_and_stores_nothing(settings, stored, tmp_path):
    store, ids = stored
    first = LayerStore(tmp_path / "full")
    first.write(store.open(ids["a"]).load(), store.provenance(ids["a"]))
    # The quota is what the store holds now: any further layer takes it past.
    full = LayerStore(tmp_path / "full", max_bytes=first.used_bytes())
    kept = full.list()
    assert kept == [ids["a"]]
    async with serve(settings, full) as client:
        answer = await client.post(
            f"/layers/{ids['a']}/diff", params={"against": ids["a"]}, headers=KEY
        )
    assert answer.status_code == 507, answer.text
    body = answer.json()
    assert body["error"] == "StoreFull"
    assert body["detail"].endswith(
        f"more than its quota of {full.max_bytes} (CITYTWIN_LAYER_STORE_MAX_BYTES)"
    )
    assert full.list() == kept
    assert not any((tmp_path / "full" / "_incoming").iterdir())


async def test_read_only_instance_refuses_post_diff(settings, stored):
    ids = stored[1]
    async with serve(settings.updated(read_only=True), stored[0]) as client:
        answer = await client.post(
            f"/layers/{ids['a']}/diff", params={"against": ids["b"]}, headers=KEY
        )
    assert answer.status_code == 405


@pytest.mark.parametrize(("against", "status"), [("known", 400), ("missing", 400)])
@pytest.mark.parametrize("method", ["get", "post"])
async def test_diff_errors_name_against(diff_client, stored, against, status, method):
    ids = stored[1]
    send = getattr(diff_client, method)
    extra = {"headers": KEY} if method == "post" else {}
    answer = await send(
        f"/layers/{ids['a']}/diff", params={"against": ids.get(against, "0" * 32)}, **extra
    )
    assert (answer.status_code, answer.json()["parameter"]) == (status, "against")
    unknown = await send(f"/layers/{'0' * 32}/diff", params={"against": ids["a"]}, **extra)
    assert unknown.status_code == 404


async def test_validation_against_hand_computation(diff_client, client, stored):
    await post_readings(client, ROWS)
    answer = await diff_client.get(f"/layers/{stored[1]['known']}/validation")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["leave_one_out"] is None  # made by no model that can leave a station out
    assert "only its in-sample fit is known" in body["leave_one_out_missing"]
    fit = body["in_sample"]
    assert list(fit["variables"]) == ["no2"]  # the support variable has no sensors
    want = by_hand()
    got = fit["variables"]["no2"]
    assert [s["sensor"] for s in got["sensors"]] == ["air:S1", "air:S2", "air:S3"]
    for row in got["sensors"]:
        part = want[want["sensor"] == row["sensor"]]
        error = part["modelled"] - part["observed"]
        assert row["n"] == 24
        assert row["bias"] == pytest.approx(error.mean(), rel=1e-9)
        assert row["rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-9)
        assert row["r"] == pytest.approx(
            np.corrcoef(part["observed"], part["modelled"])[0, 1], rel=1e-9
        )
        u = 0.24 * np.sqrt(0.96 * part["observed"] ** 2 + 0.04 * 200**2)  # FAIRMODE NO2
        rms_u = np.sqrt((u**2).mean())
        assert row["mqi"] == pytest.approx(row["rmse"] / (2 * rms_u), rel=1e-9)
    error = want["modelled"] - want["observed"]
    assert got["overall"]["rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-9)
    assert fit["overall"]["rmse"] == got["overall"]["rmse"]
    assert validate(want, FAIRMODE["no2"])["overall"]["bias"] == pytest.approx(error.mean())


async def test_validation_without_sensors_in_the_span_is_a_conflict(diff_client, stored):
    answer = await diff_client.get(f"/layers/{stored[1]['before']}/validation")
    assert answer.status_code == 409
    assert (
        "no sensor readings of the layer's variables (no2) between 2006-11"
        in (answer.json()["detail"])
    )
