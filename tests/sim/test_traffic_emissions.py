"""Roads, detector matching, volumes, emission factors and road rasters on the demo city."""

import numpy as np
import pandas as pd
import pytest

from citytwin.sim.emissions import (
    POLLUTANTS,
    VEHICLES,
    FleetMix,
    fleet_shares,
    primary_no2_share,
    road_emissions,
    road_raster,
    speed_factor,
)
from citytwin.sim.nowcast import time_steps
from citytwin.sim.traffic import FREE_FLOW, ROAD_CLASSES, road_traffic
from tests.city import demo_grid, demo_roads
from tests.conftest import ROOT

GRID = demo_grid()
ROADS = demo_roads(GRID.epsg)
TIMES = time_steps(pd.Timestamp("2026-11-02T00:00Z"), pd.Timestamp("2026-11-03T00:00Z"), 3600)


def detector_means() -> pd.DataFrame:
    """The demo traffic detectors' first day, shaped as `step_means` answers."""
    rows = pd.read_csv(ROOT / "sensors" / "samples" / "traffic.csv")
    rows = rows.rename(columns={"sensor_id": "sensor"})
    rows["time"] = pd.to_datetime(rows["time"], utc=True)
    return rows[rows["time"] < pd.Timestamp("2026-11-03T00:00Z")]


def test_roads_are_the_motor_traffic_ways():
    assert len(ROADS) == 296  # of 605 ways: tracks, paths, footways and cycleways left out
    assert ROADS["road_class"].value_counts().to_dict() == {
        "residential": 167,
        "service": 62,
        "secondary": 31,  # a secondary_link counts as secondary
        "unclassified": 17,
        "primary": 17,
        "tertiary": 2,
    }
    residential = ROADS[ROADS["road_class"] == "residential"]
    assert set(residential["speed_limit"]) <= {20.0, 30.0, 50.0}
    assert ROADS["road"].is_monotonic_increasing


def test_detected_roads_carry_their_detector_and_others_their_class():
    means = detector_means()
    traffic = road_traffic(
        ROADS,
        TIMES,
        means[means["variable"] == "vehicle_count"],
        means[means["variable"] == "speed"],
    )
    detected = [i for i, source in enumerate(traffic.source) if source.startswith("detectors:")]
    names = [name for i in detected for name in traffic.source[i].split(":")[1].split(",")]
    assert (len(detected), sorted(names)) == (24, [f"TD{n:03d}" for n in range(1, 31)])
    counts = means[means["variable"] == "vehicle_count"].set_index(["sensor", "time"])["value"]
    for road in detected:
        sensors = traffic.source[road].split(":")[1].split(",")
        expected = counts.loc[sensors].groupby(level="time").mean().to_numpy()
        np.testing.assert_allclose(traffic.volume[:, road], expected)  # a long way: their mean
    # A primary road without a detector: the median of the detected primary roads per hour.
    primary = np.flatnonzero(ROADS["road_class"].to_numpy() == "primary")
    detected_primary = [i for i in primary if i in detected]
    undetected = next(i for i in primary if i not in detected)
    expected = np.median(traffic.volume[:, detected_primary], axis=1)
    np.testing.assert_allclose(traffic.volume[:, undetected], expected)
    # Service roads have no detector: their class peak times the detectors' daily profile.
    service = int(np.flatnonzero(ROADS["road_class"].to_numpy() == "service")[0])
    assert traffic.source[service] == "class:service"
    assert traffic.volume[:, service].max() <= ROAD_CLASSES["service"][0]
    assert traffic.volume[:, service].argmax() in range(5, 18)  # a daytime peak (UTC)
    limit = ROADS["speed_limit"].to_numpy()[service]
    assert traffic.speed[0, service] == pytest.approx(FREE_FLOW * limit)
    assert (traffic.speed <= ROADS["speed_limit"].to_numpy()).all()


def test_emission_factors_and_fleet_changes():
    assert speed_factor(np.array([50.0]))[0] == pytest.approx(1.0)
    assert speed_factor(np.array([10.0]))[0] > speed_factor(np.array([60.0]))[0]
    base = FleetMix()
    shares = fleet_shares(base, np.array([np.nan, 1.0, 0.0]))
    np.testing.assert_allclose(shares.sum(axis=-1), 1.0)
    np.testing.assert_allclose(shares[0], base.as_array())
    cars = base.as_array()[:3].sum()
    assert shares[1, VEHICLES.index("car_electric")] == pytest.approx(cars)
    assert shares[1, VEHICLES.index("car_petrol")] == 0.0
    petrol_to_diesel = base.shares["car_petrol"] / base.shares["car_diesel"]
    assert shares[2, 0] / shares[2, 1] == pytest.approx(petrol_to_diesel)
    # 3600 vehicles an hour of one kind at 50 km/h: one vehicle a second, so g/s per km = g/km.
    only_trucks = np.eye(len(VEHICLES))[VEHICLES.index("truck")]
    rates = road_emissions(np.array([3600.0]), np.array([50.0]), only_trucks[None])
    nox, pm25, pm10 = rates[0]
    assert nox == pytest.approx(1.20)  # all the NOx: the receptors make NO2 of it
    assert pm25 == pytest.approx(0.010 + 0.045)
    assert pm10 == pytest.approx(0.010 + 0.120)
    electric = np.eye(len(VEHICLES))[VEHICLES.index("car_electric")]
    ev_rates = road_emissions(np.array([3600.0]), np.array([50.0]), electric[None])[0]
    assert ev_rates[POLLUTANTS.index("no2")] == 0.0
    assert ev_rates[POLLUTANTS.index("pm10")] == pytest.approx(0.030)  # tyres and brakes stay


def test_primary_no2_share_of_the_default_fleet():
    # NOx per vehicle-km by kind × share: 0.0312, 0.135, 0, 0.048, 0.036, 0.015 (0.2652 g);
    # of it NO2: 0.000936 + 0.04725 + 0.0168 + 0.0036 + 0.0015 = 0.070086 g.
    assert primary_no2_share(FleetMix()) == pytest.approx(0.070086 / 0.2652)


def test_road_raster_keeps_every_metre_of_road():
    raster = road_raster(ROADS, GRID)
    assert raster.shape == (GRID.cells, len(ROADS))
    per_road = np.asarray(raster.sum(axis=0)).ravel()
    np.testing.assert_allclose(per_road, ROADS["length_m"].to_numpy() / 1000, rtol=1e-12)
    cells_with_roads = np.count_nonzero(np.asarray(raster.sum(axis=1)).ravel())
    assert 300 < cells_with_roads < 1500
