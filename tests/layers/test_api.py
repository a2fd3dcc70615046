"""`/layers` endpoints over a nowcast of readings loaded through the API."""

from datetime import UTC, datetime

import h3.api.basic_str as h3
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from citytwin.api.app import create_app
from citytwin.layers.store import LayerStore
from citytwin.services.nowcast import NowcastRequest, run_nowcast
from tests.asgi import asgi_client
from tests.city import demo_base
from tests.factories import STATIONS, air_rows, post_readings

START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
ROWS = air_rows(hours=48)


@pytest.fixture(scope="module")
async def nowcast(app_client, pool, tmp_path_factory) -> tuple[LayerStore, str]:
    """48 hours of three stations loaded through the API, nowcast into a fresh store."""
    async with pool.acquire() as conn:
        await conn.execute(
            "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
            "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, cells "
            "RESTART IDENTITY"
        )
        await post_readings(app_client, ROWS)
        store = LayerStore(tmp_path_factory.mktemp("layers"))
        request = NowcastRequest("no2", START, END, method="idw")
        layer_id = await run_nowcast(conn, store, demo_base().city, request)
    return store, layer_id


@pytest.fixture(scope="module")
async def layers_client(settings, nowcast):
    """The app of `create_app` with the layers router and the store on `app.state`."""
    app = create_app(settings)
    async with asgi_client(app, layer_store=nowcast[0]) as client:
        yield client


def expected_idw(lon: float, lat: float, hour: int) -> tuple[float, float]:
    """IDW (power 2) of the stations' no2 at the 100 m cell centre holding (lon, lat), and the
    distance to the nearest station, computed here from the rows."""
    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    x, y = to_utm.transform(lon, lat)
    cx = 537_500 + (np.floor((x - 537_500) / 100) + 0.5) * 100
    cy = 5_226_900 - (np.floor((5_226_900 - y) / 100) + 0.5) * 100
    no2 = ROWS[ROWS["variable"] == "no2"]
    weights, values, distances = [], [], []
    for sensor, (s_lon, s_lat) in STATIONS.items():
        sx, sy = to_utm.transform(s_lon, s_lat)
        distance = np.hypot(cx - sx, cy - sy)
        distances.append(distance)
        weights.append(1 / distance**2)
        values.append(no2[no2["sensor_id"] == sensor]["value"].iloc[hour])
    return float(np.dot(weights, values) / np.sum(weights)), min(distances)


async def test_list_layers(layers_client, nowcast):
    answer = await layers_client.get("/layers")
    assert answer.status_code == 200
    (layer,) = answer.json()["layers"]
    assert layer["id"] == nowcast[1]
    assert [v["name"] for v in layer["variables"]] == ["no2", "nearest_sensor_distance"]


async def test_one_layer(layers_client, nowcast):
    answer = await layers_client.get(f"/layers/{nowcast[1]}")
    assert answer.status_code == 200
    meta = answer.json()
    assert meta["variables"][0] == {
        "name": "no2",
        "unit": "µg/m³",
        "units": "ug m-3",
        "long_name": "nitrogen dioxide concentration",
        "standard_name": "mass_concentration_of_nitrogen_dioxide_in_air",
    }
    assert meta["grid"]["crs"] == "EPSG:32632"
    assert (meta["grid"]["cell_size"], meta["grid"]["nx"], meta["grid"]["ny"]) == (100.0, 90, 119)
    assert meta["time"] == {
        "start": "2026-11-02T00:00:00+00:00",
        "end": "2026-11-04T00:00:00+00:00",
        "step_seconds": 3600,
        "steps": 48,
    }
    provenance = meta["provenance"]
    assert provenance["model"] == "observed-nowcast-idw"
    assert provenance["scenario"] == "observed"
    assert provenance["parameters"]["power"] == 2.0
    assert provenance["input_start"] == "2026-11-02T00:00:00Z"


def loso_idw() -> pd.DataFrame:
    """Each station's hourly no2 beside the IDW of the other two at its own place."""
    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    no2 = ROWS[ROWS["variable"] == "no2"]
    at = {name: to_utm.transform(*place) for name, place in STATIONS.items()}
    series = {name: no2[no2["sensor_id"] == name]["value"].to_numpy() for name in STATIONS}
    rows = []
    for held in STATIONS:
        others = [name for name in STATIONS if name != held]
        weights = [1 / np.hypot(*np.subtract(at[held], at[o])) ** 2 for o in others]
        estimate = sum(w * series[o] for w, o in zip(weights, others, strict=True)) / sum(weights)
        rows.append(pd.DataFrame({"sensor": held, "o": series[held], "m": estimate}))
    return pd.concat(rows)


async def test_validation_is_leave_one_station_out_first(layers_client, nowcast):
    answer = await layers_client.get(f"/layers/{nowcast[1]}/validation")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    table = body["leave_one_out"]["no2"]
    assert (table["scheme"], table["method"], table["averaging"]) == (
        "leave-one-station-out",
        "idw",
        "hour",
    )
    want = loso_idw()
    error = want["m"] - want["o"]
    ours = table["methods"]["citytwin"]["overall"]
    assert ours["n"] == 3 * 48
    assert ours["rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-6)
    assert ours["bias"] == pytest.approx(error.mean(), abs=1e-6)
    s3 = want[want["sensor"] == "S3"]
    (got,) = [s for s in table["methods"]["citytwin"]["stations"] if s["sensor"] == "air:S3"]
    assert got["rmse"] == pytest.approx(np.sqrt(((s3["m"] - s3["o"]) ** 2).mean()), rel=1e-6)
    assert set(table["methods"]) == {"citytwin", "mean_of_others", "nearest"}
    assert 0 < ours["mqi90"] < 1
    # The in-sample fit is there, labelled: the IDW layer repeats its sensors almost exactly.
    assert body["in_sample"]["variables"]["no2"]["overall"]["rmse"] < 1


async def test_an_unknown_layer_is_404(layers_client):
    answer = await layers_client.get(f"/layers/{'0' * 32}")
    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"
    assert (await layers_client.get("/layers/nope/point?lon=9.52&lat=47.14")).status_code == 404


@pytest.mark.parametrize(("lon", "lat"), [STATIONS["S3"], (9.5300, 47.1500)])
async def test_point_series_is_the_idw_of_the_stations(layers_client, nowcast, lon, lat):
    answer = await layers_client.get(
        f"/layers/{nowcast[1]}/point", params={"lon": lon, "lat": lat, "variable": "no2"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["variable"], body["unit"], len(body["series"])) == ("no2", "µg/m³", 48)
    assert body["series"][5]["time"] == "2026-11-02T05:00:00+00:00"
    for hour in (0, 5, 47):
        value, _ = expected_idw(lon, lat, hour)
        assert body["series"][hour]["value"] == pytest.approx(value, rel=1e-6)
    support = await layers_client.get(
        f"/layers/{nowcast[1]}/point",
        params={"lon": lon, "lat": lat, "variable": "nearest_sensor_distance"},
    )
    _, nearest = expected_idw(lon, lat, 0)
    assert support.json()["series"][0]["value"] == pytest.approx(nearest, abs=1e-2)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"lon": 9.40, "lat": 47.14}, "lon"),
        ({"lon": 9.52, "lat": 47.30}, "lat"),
        ({"lon": 9.52, "lat": 47.14, "variable": "o3"}, "variable"),
        ({"lon": 200, "lat": 47.14}, "lon"),
    ],
)
async def test_point_errors_name_the_parameter(layers_client, nowcast, params, parameter):
    answer = await layers_client.get(f"/layers/{nowcast[1]}/point", params=params)
    assert answer.status_code == 400
    assert answer.json()["parameter"] == parameter


async def test_cells_average_the_grid_into_h3(layers_client, nowcast):
    store, layer_id = nowcast
    params = {"variable": "no2", "resolution": 8, "time": "2026-11-02T05:30:00Z"}
    answer = await layers_client.get(f"/layers/{layer_id}/cells", params=params)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    document = answer.json()
    assert (document["variable"], document["unit"], document["resolution"]) == ("no2", "µg/m³", 8)
    assert (document["start"], document["end"]) == (
        "2026-11-02T05:00:00+00:00",
        "2026-11-02T06:00:00+00:00",
    )
    # Independently: every grid centre's res-10 cell taken to res 8, values of step 5.
    layer = store.open(layer_id)
    lon, lat = layer["lon"].values.ravel(), layer["lat"].values.ravel()
    frame = pd.DataFrame(
        {
            "h3": [
                h3.cell_to_parent(h3.latlng_to_cell(y, x, 10), 8)
                for x, y in zip(lon, lat, strict=True)
            ],
            "value": layer["no2"].values[5].ravel().astype(float),
        }
    )
    want = frame.groupby("h3")["value"].agg(["count", "mean", "min", "max", "std"])
    got = pd.DataFrame([f["properties"] for f in document["features"]]).set_index("h3")
    assert got.index.tolist() == want.index.tolist()
    assert got["count"].sum() == 90 * 119
    assert got["count"].tolist() == want["count"].tolist()
    for column in ("mean", "min", "max", "std"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9)


async def test_cells_have_the_shape_of_sensor_cells(layers_client, client, nowcast):
    await post_readings(client, ROWS)  # `client` emptied the store
    sensors = (await client.get("/cells", params={"variable": "no2", "resolution": 8})).json()
    answer = await layers_client.get(f"/layers/{nowcast[1]}/cells", params={"resolution": 8})
    document = answer.json()
    assert set(sensors) <= set(document) and set(document) - set(sensors) == {"layer"}
    assert set(sensors["features"][0]) == set(document["features"][0])
    assert set(sensors["features"][0]["properties"]) == set(document["features"][0]["properties"])
    # Over all 48 steps; the sensors' cells hold some of the grid's.
    assert sum(f["properties"]["count"] for f in document["features"]) == 48 * 90 * 119
    sensor_cells = {f["properties"]["h3"] for f in sensors["features"]}
    assert sensor_cells <= {f["properties"]["h3"] for f in document["features"]}


async def test_cells_errors_and_csv(layers_client, nowcast):
    url = f"/layers/{nowcast[1]}/cells"
    late = await layers_client.get(url, params={"time": "2026-11-05T00:00:00+00:00"})
    assert (late.status_code, late.json()["parameter"]) == (400, "time")
    fine = await layers_client.get(url, params={"resolution": 16})
    assert (fine.status_code, fine.json()["parameter"]) == (400, "resolution")
    csv = await layers_client.get(url, params={"resolution": 7, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "h3,count,mean,min,max,std"
