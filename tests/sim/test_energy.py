"""Building energy model on the real OSM buildings and the sample meters, against hand-computed
answers: floor areas, demand, calibration onto the meters, measures, gridding, daily peaks."""

import json
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter
from citytwin.sim.energy import (
    ENERGY_USES,
    USE_OF_TAG,
    EnergyParameters,
    Measures,
    apply_measures,
    calibrate,
    daily_peak,
    default_temperature,
    demand_grid,
    pv_generation,
    raw_demand,
    read_buildings,
)
from citytwin.sim.energy_profiles import profile_table
from citytwin.sim.nowcast import time_steps
from tests.city import demo_buildings, demo_energy_parameters, demo_grid, read_base

ROOT = Path(__file__).resolve().parents[2]
METERS = ROOT / "sensors" / "samples" / "energy_meters.csv"
TIMES = time_steps(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC), 3600)
HOUSE = "345330210"  # EM001's building, tagged "house"
NEAR_HOUSE = (9.521511, 47.149938)  # 10 m east of it, outside every building
OFF_BUILDINGS = (9.501632, 47.151046)  # over 100 m from any building
P = demo_energy_parameters()  # the demo city's zone and longitude


def heating_share(use: str, age_factor: float = 1.2) -> float:
    """Heating part / demand at the default temperature in November (built 1975 by default)."""
    f = P.heating_fraction[use]
    return f * age_factor / (1 - f + f * age_factor)


@pytest.fixture(scope="module")
def buildings():
    return demo_buildings(32632)


@pytest.fixture(scope="module")
def meters():
    sample = pd.read_csv(METERS)
    local = pd.to_datetime(sample["timestamp"]).dt.tz_localize("Europe/Vaduz")
    return pd.DataFrame(
        {
            "sensor": sample["meter_id"],
            "lon": sample["longitude"],
            "lat": sample["latitude"],
            "time": local.dt.tz_convert("UTC"),
            "value": sample["energy_wh"] / 1000,
        }
    )


@pytest.fixture(scope="module")
def raw(buildings):
    return raw_demand(buildings, TIMES, params=P)


@pytest.fixture(scope="module")
def calibration(buildings, raw, meters):
    return calibrate(buildings, TIMES, raw, meters)


def column(buildings, building_id):
    return int(np.flatnonzero(buildings["building"] == building_id)[0])


def test_buildings_are_sorted_with_uses_and_floor_areas(buildings):
    assert len(buildings) == 498
    assert buildings["building"].is_unique
    assert buildings["building"].tolist() == sorted(buildings["building"])
    assert buildings["use"].value_counts().to_dict() == {
        "residential": 472,
        "other": 11,
        "school": 4,
        "commercial": 4,
        "public": 3,
        "industrial": 2,
        "museum": 1,
        "hospital": 1,
    }
    source = gpd.read_file(ROOT / "gis_data" / "buildings.geojson")
    footprint = source[source["osm_id"] == int(HOUSE)].to_crs(32632).area.iloc[0]
    house = buildings.iloc[column(buildings, HOUSE)]
    assert footprint == pytest.approx(188.0323, abs=1e-3)
    assert house["roof_area"] == pytest.approx(footprint, rel=1e-12)
    assert house["floor_area"] == pytest.approx(2 * footprint, rel=1e-12)
    assert (house["use"], house["year"], house["levels"]) == ("residential", 1975, 2.0)
    garage = buildings[buildings["tag"] == "garage"].iloc[0]
    assert (garage["use"], garage["floor_area"]) == ("other", garage["roof_area"])
    points = gpd.points_from_xy(buildings["x"], buildings["y"])
    assert buildings.geometry.contains(
        gpd.GeoSeries(points, index=buildings.index, crs=32632)
    ).all()


def test_use_mapping():
    assert set(USE_OF_TAG.values()) <= set(ENERGY_USES)
    assert USE_OF_TAG["yes"] == USE_OF_TAG["apartments"] == "residential"
    assert USE_OF_TAG["cathedral"] == "public"
    assert "garage" not in USE_OF_TAG and "greenhouse" not in USE_OF_TAG


def test_levels_height_and_construction_year_from_properties(tmp_path):
    square = [[[9.52, 47.14], [9.5201, 47.14], [9.5201, 47.1401], [9.52, 47.1401], [9.52, 47.14]]]
    rows = [
        {"osm_id": 3, "building": "house", "levels": "4", "start_date": "~1995-05"},
        {"osm_id": 1, "building": "office", "height": "12", "year": 2010},
        {"osm_id": 2, "building": "barn", "levels": None},
    ]
    features = [
        {
            "type": "Feature",
            "properties": row,
            "geometry": {"type": "Polygon", "coordinates": square},
        }
        for row in rows
    ]
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    frame = read_buildings(read_base(path, "buildings"), 32632)
    assert frame["building"].tolist() == ["1", "2", "3"]
    assert frame["use"].tolist() == ["office", "other", "residential"]
    assert frame["levels"].tolist() == [4.0, 1.0, 4.0]
    assert frame["year"].tolist() == [2010, 1975, 1995]
    # Heating per age class: after 2000 x0.7; the 1995 house is the reference (x1.0).
    times = TIMES[:24]
    demand = raw_demand(frame, times, params=P)
    # No heating above 18 °C.
    other = raw_demand(frame, times, temperature=np.full(24, 30.0), params=P)
    f = P.heating_fraction
    np.testing.assert_allclose(
        demand[:, 0], other[:, 0] * (1 + 0.7 * f["office"] / (1 - f["office"]))
    )
    np.testing.assert_allclose(demand[:, 2], other[:, 2] / (1 - f["residential"]))
    np.testing.assert_array_equal(demand[:, 1], other[:, 1])


def test_default_temperature_is_a_november_day():
    temperature = default_temperature(TIMES, P.timezone)
    assert temperature[5] == pytest.approx(2.0)  # 05:00Z is 06 local, the coldest
    assert temperature[14] == pytest.approx(8.0)  # 15 local, the warmest
    assert temperature[:24].mean() == pytest.approx(5.0)
    assert temperature.min() == pytest.approx(2.0) and temperature.max() == pytest.approx(8.0)


def test_raw_demand_is_area_times_intensity_times_profile(buildings, raw):
    assert raw.shape == (168, 498)
    use = buildings["use"].to_numpy()
    shares = {u: 1 - P.heating_fraction[u] + 1.2 * P.heating_fraction[u] for u in ENERGY_USES}
    expected = (
        buildings["floor_area"].to_numpy()
        * np.array([P.intensity[u] * shares[u] for u in use])
        * 1.15
        / 8760
    )
    # The week covers every local (day, hour) once and each profile's weekly mean is 1.
    np.testing.assert_allclose(raw.mean(axis=0), expected, rtol=1e-12)
    house = buildings.iloc[column(buildings, HOUSE)]
    # 2026-11-02 18:00Z is Monday 19:00 local, the residential evening peak.
    at_peak = house["floor_area"] * 35 * 1.15 / 8760 * 1.1 * profile_table(ENERGY_USES)[0, 0, 19]
    assert raw[18, column(buildings, HOUSE)] == pytest.approx(at_peak, rel=1e-12)
    july = pd.date_range("2027-07-05", periods=168, freq="h")
    np.testing.assert_allclose(
        raw_demand(buildings, july, params=P).mean(axis=0),
        buildings["floor_area"].to_numpy() * [P.intensity[u] for u in use] * 0.8 / 8760,
        rtol=1e-12,
    )


def test_calibrated_totals_equal_the_meters(buildings, raw, meters, calibration):
    report = calibration.report
    assert report["sensor"].tolist() == [f"EM{i:03d}" for i in range(1, 31)]
    assert (report["match"] == "inside").all()
    totals = meters.groupby("sensor")["value"].sum()
    np.testing.assert_allclose(report["metered_kwh"], totals.to_numpy(), rtol=1e-12)
    calibrated = calibration.apply(raw)
    for row in report.itertuples():
        modelled = calibrated[:, column(buildings, row.building)].sum()
        assert modelled == pytest.approx(totals[row.sensor], rel=1e-6)
    # The model reproduces the sample generator: factors undo only the heating of a 1975
    # building (x1.2, which the generator lacks) and the meters' noise.
    expected = [1 / (1 + 0.2 * P.heating_fraction[use]) for use in report["use"]]
    np.testing.assert_allclose(report["factor"], expected, atol=0.04)


def test_unmetered_buildings_take_the_median_of_their_use(buildings, calibration):
    report = calibration.report
    metered = [column(buildings, b) for b in report["building"]]
    homes = report.loc[report["use"] == "residential", "factor"]
    unmetered = np.setdiff1d(np.arange(len(buildings)), metered)
    use = buildings["use"].to_numpy()
    factors = calibration.factors
    np.testing.assert_array_equal(factors[metered], report["factor"].to_numpy())
    assert np.all(factors[unmetered[use[unmetered] == "residential"]] == homes.median())
    # No garage or greenhouse has a meter: the median of all meters.
    assert np.all(factors[use == "other"] == report["factor"].median())


def test_a_meter_off_every_building_is_reported_not_used(buildings, raw, meters, calibration):
    extra = meters[meters["sensor"] == "EM001"].assign(sensor="ZZ_OFF")
    extra = extra.assign(lon=OFF_BUILDINGS[0], lat=OFF_BUILDINGS[1])
    near = meters[meters["sensor"] == "EM001"].assign(sensor="EM001_NEAR")
    near = near.assign(lon=NEAR_HOUSE[0], lat=NEAR_HOUSE[1], value=near["value"] * 2)
    result = calibrate(buildings, TIMES, raw, pd.concat([meters, extra, near]))
    row = result.report.set_index("sensor").loc["ZZ_OFF"]
    assert row["match"] == "unmatched"
    assert pd.isna(row["building"]) and pd.isna(row["use"])
    assert np.isnan(row["factor"]) and np.isnan(row["distance_m"])
    assert np.isnan(row["modelled_kwh"])
    assert row["metered_kwh"] == pytest.approx(
        meters.loc[meters["sensor"] == "EM001", "value"].sum()
    )
    # The near meter is a sub-meter of the house: the house now meters three times as much.
    row = result.report.set_index("sensor").loc["EM001_NEAR"]
    assert (row["match"], row["building"]) == ("nearest", HOUSE)
    assert row["distance_m"] == pytest.approx(9.9, abs=0.5)
    i = column(buildings, HOUSE)
    assert result.factors[i] == pytest.approx(3 * calibration.factors[i], rel=1e-12)
    # Only the residential median moves; every other use keeps its factors.
    keep = (buildings["use"] != "residential").to_numpy()
    np.testing.assert_array_equal(result.factors[keep], calibration.factors[keep])


def test_no_meters_leave_every_factor_one(buildings, raw, meters):
    result = calibrate(buildings, TIMES, raw, meters.iloc[:0])
    assert np.all(result.factors == 1.0) and result.report.empty
    with pytest.raises(InvalidParameter) as error:
        calibrate(buildings, TIMES, raw, meters.drop(columns="value"))
    assert error.value.parameter == "meters"


def test_retrofit_cuts_the_heating_part(buildings, raw, calibration):
    demand = calibration.apply(raw)
    n = len(buildings)
    none = Measures.none(168, n)
    np.testing.assert_array_equal(apply_measures(demand, buildings, TIMES, none, P), demand)
    retrofit_only = Measures.none(168, n)
    retrofit_only.retrofit[:] = 1.0  # the scenario runner fills the arrays in place
    assert not retrofit_only.pv.any() and not retrofit_only.heat_pump.any()
    retrofit = Measures(np.ones((168, n)), none.pv, none.heat_pump)
    after = apply_measures(demand, buildings, TIMES, retrofit, P)
    i = column(buildings, HOUSE)
    cut = 0.5 * heating_share("residential") * demand[:, i]  # saving x heating part
    np.testing.assert_allclose(demand[:, i] - after[:, i], cut, rtol=1e-12)
    other = buildings["use"].to_numpy() == "other"
    np.testing.assert_array_equal(after[:, other], demand[:, other])
    heat_pump = Measures(none.retrofit, none.pv, np.ones((1, n)))  # broadcast over time
    after = apply_measures(demand, buildings, TIMES, heat_pump, P)
    share = heating_share("residential")
    np.testing.assert_allclose(after[:, i], demand[:, i] * (1 - share + share / 3), rtol=1e-12)


def test_pv_only_in_daylight(buildings, raw):
    n = len(buildings)
    none = Measures.none(168, n)
    after = apply_measures(
        raw, buildings, TIMES, Measures(none.retrofit, np.ones((168, n)), none.heat_pump), P
    )
    # November: 9.1 h of daylight around solar noon, 11:22Z at 9.52° E: 06:50Z to 15:55Z.
    hours = TIMES.hour.to_numpy()
    daylight = (hours >= 6) & (hours <= 15)
    np.testing.assert_array_equal(after[~daylight], raw[~daylight])
    assert np.all(after[daylight] < raw[daylight])
    generation = pv_generation(buildings, TIMES, P).reshape(7, 24, n).sum(axis=1)
    daily = buildings["roof_area"].to_numpy() * 0.6 * 0.2 * 1.3  # m² x share x kWp/m² x kWh/kWp
    np.testing.assert_allclose(generation, np.broadcast_to(daily, (7, n)), rtol=1e-12)
    assert (after < 0).any()  # midday export is kept as negative demand


def test_colder_weather_raises_demand(buildings, raw):
    temperature = default_temperature(TIMES, P.timezone)
    cold = raw_demand(buildings, TIMES, temperature - 5, P)
    heated = buildings["use"].to_numpy() != "other"
    assert np.all(cold[:, heated] > raw[:, heated])
    np.testing.assert_array_equal(cold[:, ~heated], raw[:, ~heated])
    i = column(buildings, HOUSE)
    heating = heating_share("residential") * raw[:, i]
    np.testing.assert_allclose(cold[:, i] - raw[:, i], heating * 5 / (18 - temperature), rtol=1e-12)
    warm = raw_demand(buildings, TIMES, np.full(168, 20.0), P)
    np.testing.assert_allclose(warm[:, i], raw[:, i] - heating, rtol=1e-12)
    with pytest.raises(InvalidParameter) as error:
        raw_demand(buildings, TIMES, np.zeros(5), P)
    assert error.value.parameter == "temperature"


def test_grid_conserves_energy(buildings, raw, calibration):
    demand = calibration.apply(raw)
    grid = demo_grid()
    cells = demand_grid(demand, buildings, grid)
    assert cells.shape == (168, grid.ny, grid.nx) and cells.dtype == np.float32
    np.testing.assert_allclose(cells.sum(axis=(1, 2), dtype=float), demand.sum(axis=1), rtol=1e-6)
    i = column(buildings, HOUSE)
    x, y = buildings.loc[i, ["x", "y"]]
    row, col = int((grid.north - y) // 100), int((x - grid.west) // 100)
    same = ((grid.north - buildings["y"]) // 100 == row) & (
        (buildings["x"] - grid.west) // 100 == col
    )
    np.testing.assert_allclose(
        cells[:, row, col], demand[:, same.to_numpy()].sum(axis=1), rtol=1e-6
    )
    # A grid of one cell around the house keeps the buildings in that cell only.
    small = Grid(32632, 100.0, grid.west + col * 100, grid.north - row * 100, nx=1, ny=1)
    np.testing.assert_allclose(demand_grid(demand, buildings, small)[:, 0, 0], cells[:, row, col])


def test_daily_peak_is_the_highest_mean_power_of_the_day():
    times = pd.date_range("2026-11-02", periods=48, freq="h")
    energy = np.zeros((48, 1, 2), dtype=np.float32)
    energy[:, 0, 0] = np.arange(48)  # rising: peaks at 23:00 of each day
    energy[5, 0, 1], energy[30, 0, 1] = 7.0, 3.0
    peak = daily_peak(energy, times, 3600)
    assert peak.shape == energy.shape and peak.dtype == np.float32
    assert peak[:24, 0, 0].tolist() == [23.0] * 24 and peak[24:, 0, 0].tolist() == [47.0] * 24
    assert peak[:24, 0, 1].tolist() == [7.0] * 24 and peak[24:, 0, 1].tolist() == [3.0] * 24
    shuffled = np.random.default_rng(0).permutation(48)
    np.testing.assert_array_equal(
        daily_peak(energy[shuffled], times[shuffled], 3600), peak[shuffled]
    )
    half_hours = pd.date_range("2026-11-02", periods=48, freq="30min")
    assert daily_peak(energy, half_hours, step_seconds=1800)[0, 0, 1] == 14.0  # 7 kWh in 0.5 h


def test_same_inputs_give_identical_bytes(buildings, meters):
    def run(meter_rows):
        raw = raw_demand(buildings, TIMES, params=P)
        calibration = calibrate(buildings, TIMES, raw, meter_rows)
        demand = apply_measures(
            calibration.apply(raw), buildings, TIMES, Measures(0.3, 0.5, 0.2), P
        )
        grid = Grid(32632, 100.0, 537_500.0, 5_227_000.0, nx=40, ny=80)
        return daily_peak(demand_grid(demand, buildings, grid), TIMES, 3600), calibration.factors

    first = run(meters)
    again = run(meters.sample(frac=1.0, random_state=1))
    assert first[0].tobytes() == again[0].tobytes()
    assert first[1].tobytes() == again[1].tobytes()


def test_parameters_are_checked_and_plain_json():
    values = P.as_dict()
    assert json.loads(json.dumps(values)) == values
    assert values["intensity"]["hospital"] == 200.0 and values["monthly_factor"][10] == 1.15
    with pytest.raises(InvalidParameter) as error:
        EnergyParameters(base_temperature=8.0)
    assert error.value.parameter == "base_temperature"
    with pytest.raises(InvalidParameter) as error:
        EnergyParameters(intensity={"residential": 35.0})
    assert error.value.parameter == "intensity"


def test_measure_shares_are_checked(buildings, raw):
    with pytest.raises(InvalidParameter) as error:
        apply_measures(raw, buildings, TIMES, Measures(1.5, 0.0, 0.0))
    assert error.value.parameter == "retrofit"
    with pytest.raises(InvalidParameter) as error:
        apply_measures(raw, buildings, TIMES, Measures(0.0, np.zeros(3), 0.0))
    assert error.value.parameter == "pv"
