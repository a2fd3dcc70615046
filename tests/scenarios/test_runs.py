"""Scenario runs on the demo city's Tuesday: baseline calibration, effects, determinism, Dask
clusters, cancellation, failures, and errors raised before any work."""

import re

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
from distributed import LocalCluster
from shapely import from_wkt

from citytwin.db import scenario_runs
from citytwin.errors import InvalidParameter
from citytwin.layers.cf import variable_names
from citytwin.layers.selection import grid_of, polygon_mask
from citytwin.layers.store import LayerStore
from citytwin.scenarios import run as scenario_run
from citytwin.scenarios.jobs import prepare
from citytwin.scenarios.models import RunControl
from citytwin.scenarios.models import air as air_model
from citytwin.scenarios.spec import parse_scenario
from citytwin.sim.energy import raw_demand
from citytwin.sim.energy_profiles import HEATING_FRACTION
from tests.city import demo_buildings, demo_energy_parameters, demo_roads, demo_weather
from tests.conftest import ROOT
from tests.scenarios.conftest import CENTRE, run_text, scenario_text

pytestmark = pytest.mark.usefixtures("demo_city")
HALF_TRAFFIC = f"{{geometry: '{CENTRE}', effect: {{type: traffic_volume, factor: 0.5}}}}"
AIR_ONLY = (
    "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z, "
    "variables: [no2, pm25, pm10]}"
)


async def test_baseline_is_calibrated_against_the_sensors(pool, settings, tmp_path):
    store = LayerStore(tmp_path)
    result, row = await run_text(pool, settings, scenario_text(), store)
    assert (result.layer, result.diff) == (result.baseline, None)
    assert (row["status"], row["progress"], row["layer"]) == ("succeeded", 1.0, result.layer)
    layer = store.open(result.layer)
    assert variable_names(layer) == ["no2", "pm25", "pm10", "energy_demand", "peak_load"]
    assert dict(layer.sizes) == {"time": 24, "y": 119, "x": 90}
    assert layer["no2"].attrs["units"] == "ug m-3"
    assert layer["energy_demand"].attrs["citytwin_unit"] == "kWh"
    calibration = store.provenance(result.layer)
    assert calibration.scenario == "baseline"
    # No demo feed measures the weather: every hour took the climatology's, and says so; the
    # stations measure ozone, so no hour's NO2 took the Derwent-Middleton fallback.
    assert calibration.parameters["meteorology"]["wind"] == "climatology"
    every = [f"2026-11-03T{h:02d}:00:00Z" for h in range(24)]
    assert calibration.fallbacks == {
        "climatology-wind": every,
        "climatology-temperature": every,
        "climatology-mixing-height": every,
        "declared-cloud-cover": every,
    }
    report = scenario_run.stored_calibrations(store, result.layer)
    assert report == orjson.loads(store.attributes(result.layer)["citytwin_calibration"])
    air = report["traffic-air-quality"]
    assert set(air) == {"no2", "pm25", "pm10"} and all(fit["factor"] > 0 for fit in air.values())
    # Every station every hour, but for hours whose readings the quality stage flagged.
    async with pool.acquire() as conn:
        kept = dict(
            await conn.fetch(
                "SELECT v.name, count(DISTINCT (r.sensor_id, date_trunc('hour', r.time))) "
                "FROM readings r JOIN variables v ON v.id = r.variable_id "
                "WHERE NOT r.flagged AND r.time >= '2026-11-03' AND r.time < '2026-11-04' "
                "GROUP BY 1"
            )
        )
    for pollutant in ("no2", "pm25", "pm10"):
        fit = air[pollutant]
        assert 20 * 24 - 5 <= fit["n"] == kept[pollutant]
        assert fit["rmse"] < fit["background_only"]["rmse"]  # the roads explain something
        assert abs(fit["bias"]) < abs(fit["uncalibrated"]["bias"])
        # No demo sensor declares its site type: the background is the declared fallback.
        assert fit["background"] == {"source": "quantile-of-all-sensors", "sensors": []}
        assert (fit["factor_note"] is None) == (0.5 <= fit["factor"] <= 2)
        # Cross-validated, in the report and in the layer's provenance alike.
        skill = calibration.skill[pollutant]
        assert skill == fit["leave_one_out"]
        assert skill["averaging"] == ("hour" if pollutant == "no2" else "day")
        assert sorted(skill["methods"]) == [
            "background_only",
            "citytwin",
            "mean_of_others",
            "nearest",
            "uncalibrated",
        ]
        assert len(skill["methods"]["citytwin"]["stations"]) == 20
    meters = report["building-energy"]
    assert len(meters) == 30
    # Calibrated, the layer's energy in the cell of a metered building (alone in its cell, with
    # one meter) over the day is what that meter measured: the stored readings, summed in SQL.
    async with pool.acquire() as conn:
        measured = dict(
            await conn.fetch(
                "SELECT s.feed || ':' || s.external_id, sum(r.value) FROM readings r "
                "JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id "
                "WHERE v.name = 'energy_kwh' AND r.time >= '2026-11-03' AND r.time < '2026-11-04' "
                "GROUP BY 1"
            )
        )
    grid = grid_of(layer)
    footprints = gpd.read_file(ROOT / "gis_data" / "buildings.geojson").to_crs(grid.epsg)
    points = footprints.representative_point()
    cells = list(
        zip(
            ((grid.north - points.y) // grid.cell_size).astype(int),
            ((points.x - grid.west) // grid.cell_size).astype(int),
            strict=True,
        )
    )
    building_cell = dict(zip(footprints["osm_id"].astype(str), cells, strict=True))
    alone = {cell for cell in cells if cells.count(cell) == 1}
    metered = [m["building"] for m in meters]
    energy = layer["energy_demand"].values.sum(axis=0, dtype=np.float64)
    checked = 0
    for meter in meters:
        assert meter["metered_kwh"] == pytest.approx(measured[meter["sensor"]], rel=1e-9)
        cell = building_cell[meter["building"]]
        if cell in alone and metered.count(meter["building"]) == 1:
            assert energy[cell] == pytest.approx(measured[meter["sensor"]], rel=1e-5)
            checked += 1
    assert checked == 4  # on the 100 m grid, four metered buildings have a cell of their own
    # Elsewhere a metered building shares its cell: the cell holds at least its meter's energy.
    for meter in meters:
        assert energy[building_cell[meter["building"]]] >= measured[meter["sensor"]] * (1 - 1e-5)


async def test_the_documented_energy_week(pool, settings, tmp_path):
    """docs/models.md's figures of the calibrated demo week: the meters' factors, their spread
    once the generator's missing age classes are allowed for, and the week's total."""
    text = (ROOT / "docs" / "models.md").read_text()
    figures = r"factors are ([\d.]+)\W([\d.]+) \(median ([\d.]+)\)"
    low, high, median = map(float, re.search(figures, text).groups())
    within = float(re.search(r"every factor is within (\d+) % of 1", text).group(1)) / 100
    totals = r"comes to ([\d.]+) MWh for the 498 buildings \(([\d.]+) MWh raw\)"
    total, raw = map(float, re.search(totals, text).groups())
    week = (
        "baseline: {start: 2026-11-02T00:00:00Z, end: 2026-11-09T00:00:00Z, "
        "variables: [energy_demand]}"
    )
    store = LayerStore(tmp_path)
    result, _ = await run_text(pool, settings, f"name: Week\n{week}\ninterventions: []\n", store)
    meters = scenario_run.stored_calibrations(store, result.layer)["building-energy"]
    factors = np.array([meter["factor"] for meter in meters])
    assert [m["match"] for m in meters] == ["inside"] * 30
    assert (round(factors.min(), 2), round(factors.max(), 2)) == (low, high)
    assert round(float(np.median(factors)), 3) == median
    aged = factors * np.array([1 + 0.2 * HEATING_FRACTION[meter["use"]] for meter in meters])
    assert np.abs(aged - 1).max() <= within
    energy = store.open(result.layer)["energy_demand"].values.sum(dtype=np.float64)
    assert round(energy / 1000, 1) == total
    # Raw: the same buildings and hours before calibration, at the climatology's temperature.
    times = pd.date_range("2026-11-02", periods=168, freq="h")
    params = demo_energy_parameters()
    buildings = demo_buildings(32632, params)
    demand = raw_demand(buildings, times, demo_weather(times).temperature, params)
    assert (len(buildings), round(demand.sum() / 1000, 1)) == (498, raw)


async def test_half_the_traffic_lowers_no2_there_and_raises_it_nowhere(pool, settings, tmp_path):
    store = LayerStore(tmp_path)
    result, row = await run_text(pool, settings, scenario_text(HALF_TRAFFIC), store)
    roads = demo_roads(32632)
    centre = gpd.GeoSeries([from_wkt(CENTRE)], crs=4326).to_crs(32632).iloc[0]
    assert int(roads.intersects(centre).sum()) == 113
    assert row["touched"] == [
        {"intervention": "#0", "type": "traffic_volume", "steps": 24, "roads": 113}
    ]
    diff = store.open(result.diff)
    inside = polygon_mask(grid_of(diff), from_wkt(CENTRE))
    no2 = diff["no2"].values
    assert no2.max() <= 1e-4  # FFT round-off at most: no cell gets worse
    assert no2[:, inside].mean() < -1.0
    assert no2[:, ~inside].mean() > no2[:, inside].mean()
    assert np.abs(diff["energy_demand"].values).max() == 0.0  # traffic leaves buildings be
    baseline = store.open(result.baseline)["no2"].values
    scenario = store.open(result.layer)["no2"].values
    np.testing.assert_array_equal(scenario - baseline, no2)


async def test_runs_are_bit_identical_and_the_same_on_a_local_cluster(pool, settings, tmp_path):
    text = scenario_text(HALF_TRAFFIC, baseline=AIR_ONLY)
    first, _ = await run_text(pool, settings, text, LayerStore(tmp_path / "a"))
    again, _ = await run_text(pool, settings, text, LayerStore(tmp_path / "b"))
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        control = RunControl(scheduler=cluster.scheduler_address)
        remote, _ = await run_text(pool, settings, text, LayerStore(tmp_path / "c"), control)
    assert first.layer == again.layer == remote.layer
    stores = [LayerStore(tmp_path / name) for name in "abc"]
    for name in ("no2", "pm25", "pm10"):
        values = [store.open(first.layer)[name].values.tobytes() for store in stores]
        assert values[0] == values[1] == values[2]


async def test_a_cancelled_run_leaves_no_layer(pool, settings, tmp_path):
    store = LayerStore(tmp_path)
    control = RunControl()
    stages = []

    def report(stage: str, fraction: float) -> None:
        stages.append(stage)
        if stage == "baseline":
            control.cancelled.set()

    control.report = report
    result, row = await run_text(pool, settings, scenario_text(HALF_TRAFFIC), store, control)
    assert result is None
    assert (row["status"], row["error"]) == ("cancelled", "cancelled during baseline")
    assert store.list() == []
    assert not any(tmp_path.rglob("*.zarr"))


async def test_a_failing_run_says_why_and_leaves_no_layer(pool, settings, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("no room for the grid")

    monkeypatch.setattr(air_model, "concentrations", broken)
    store = LayerStore(tmp_path)
    result, row = await run_text(pool, settings, scenario_text(HALF_TRAFFIC), store)
    assert result is None
    assert row["status"] == "failed"
    assert row["error"] == "MemoryError: no room for the grid"
    assert store.list() == []


@pytest.mark.parametrize(
    ("text", "parameter", "message"),
    [
        (
            scenario_text(
                "{geometry: 'POLYGON((8.5 47.3, 8.6 47.3, 8.6 47.4, 8.5 47.3))', "
                "effect: {type: road_closure}}"
            ),
            "interventions[0].geometry",
            "outside the city grid",
        ),
        (
            scenario_text(baseline="baseline: {start: 2025-01-01T00:00:00Z, end: 2025-01-02}"),
            "baseline.start",
            "no vehicle_count readings between 2025-01-01T00:00:00Z",
        ),
        (
            scenario_text(
                baseline="baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04, cell_size: 2}"
            ),
            "baseline.cell_size",
            "over the limit of 4,000,000 cells",
        ),
    ],
)
async def test_bad_input_is_refused_before_any_work(pool, settings, text, parameter, message):
    async with pool.acquire() as conn:
        runs_before, _ = await scenario_runs.list_runs(conn)
        with pytest.raises(InvalidParameter) as error:
            await prepare(conn, parse_scenario(text), settings)
        assert error.value.parameter == parameter
        assert message in error.value.message
        assert (await scenario_runs.list_runs(conn))[0] == runs_before  # nothing recorded
    # docs/scenarios.md shows this error as it reads ("…" where its times are left out; its
    # intervention may have another index).
    kind = re.sub(r"\[\d+\]", "[]", parameter)
    lines = (ROOT / "docs" / "scenarios.md").read_text().splitlines()
    documented = next(line for line in lines if re.sub(r"\[\d+\]", "[]", line).startswith(kind))
    pattern = ".*".join(re.escape(part) for part in documented.split(": ", 1)[1].split("…"))
    assert re.fullmatch(pattern, error.value.message)
