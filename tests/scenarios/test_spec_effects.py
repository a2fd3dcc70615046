"""Scenario files: parsing, errors naming the field, and what interventions change."""

import numpy as np
import orjson
import pandas as pd
import pytest

from citytwin.errors import InvalidParameter
from citytwin.scenarios.effects import compile_effects
from citytwin.scenarios.spec import parse_scenario
from citytwin.sim.nowcast import time_steps
from tests.city import demo_buildings, demo_grid, demo_roads, demo_weather
from tests.conftest import ROOT
from tests.scenarios.conftest import CENTRE, scenario_text

GRID = demo_grid()
ROADS = demo_roads(GRID.epsg)
BUILDINGS = demo_buildings(GRID.epsg)
TIMES = time_steps(pd.Timestamp("2026-11-03T00:00Z"), pd.Timestamp("2026-11-04T00:00Z"), 3600)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_the_example_scenarios_parse(path):
    scenario = parse_scenario(path.read_bytes())
    assert scenario.baseline.start.isoformat() == "2026-11-02T00:00:00+00:00"


@pytest.mark.parametrize(
    ("item", "parameter", "message"),
    [
        (
            f"{{geometry: '{CENTRE}', effect: {{type: traffic_volume, factor: -1}}}}",
            "interventions[0].effect.factor",
            "greater than or equal to 0",
        ),
        (
            f"{{geometry: '{CENTRE}', effect: {{type: traffic_volumes, factor: 1}}}}",
            "interventions[0].effect",
            "does not match any of the expected tags",
        ),
        (
            f"{{geometry: '{CENTRE}', effect: {{type: speed_limit, kmh: 30, unit: mph}}}}",
            "interventions[0].effect.unit",
            "Extra inputs are not permitted",
        ),
        (
            "{geometry: 'POLYGON((9.5 47.1, 9.6 47.1))', effect: {type: road_closure}}",
            "interventions[0].geometry",
            "not a GeoJSON geometry or WKT",
        ),
        (
            "{geometry: 'POINT(9.5 47.1)', effect: {type: road_closure}}",
            "interventions[0].geometry",
            "not Point",
        ),
        (
            "{effect: {type: meteorology}}",
            "interventions[0].effect",
            "set at least one of wind_speed",
        ),
        (
            f"{{geometry: '{CENTRE}', start: 2026-11-05T00:00:00Z, "
            "effect: {type: road_closure}}",
            "interventions[0].start",
            "must be a forward span inside the baseline",
        ),
    ],
)
def test_errors_name_the_field_at_fault(item, parameter, message):
    with pytest.raises(InvalidParameter) as error:
        parse_scenario(scenario_text(item))
    assert error.value.parameter == parameter
    assert message in error.value.message


def test_baseline_errors():
    too_long = "baseline: {start: 2026-11-01T00:00:00Z, end: 2026-12-15T00:00:00Z}"
    with pytest.raises(InvalidParameter, match=r"baseline.end: the baseline spans more than 31"):
        parse_scenario(scenario_text(baseline=too_long))
    # CITYTWIN_SCENARIO_MAX_DAYS raised to 45 lets the same 44 days through
    assert parse_scenario(scenario_text(baseline=too_long), max_days=45).baseline.end.day == 15
    unknown = "baseline: {start: 2026-11-03, end: 2026-11-04, variables: [no2, so2]}"
    with pytest.raises(InvalidParameter, match=r"baseline.variables: .*unknown variable 'so2'"):
        parse_scenario(scenario_text(baseline=unknown))


def effects_of(*items: str):
    scenario = parse_scenario(scenario_text(*items))
    return compile_effects(scenario, GRID, TIMES, ROADS, BUILDINGS, demo_weather(TIMES))


def test_traffic_effects_compose_in_their_windows():
    effects = effects_of(
        f"{{geometry: '{CENTRE}', effect: {{type: traffic_volume, factor: 0.5}}}}",
        f"{{geometry: '{CENTRE}', start: 2026-11-03T06:00:00Z, end: 2026-11-03T09:00:00Z, "
        "effect: {type: traffic_volume, factor: 0.5}}",
        "{geometry: 'LINESTRING(9.5207 47.1383, 9.5245 47.1437)', "
        "effect: {type: speed_limit, kmh: 30}}",
        f"{{geometry: '{CENTRE}', effect: {{type: fleet_mix, ev_share: 0.4}}}}",
    )
    factor = effects.traffic.volume_factor
    touched = factor[0] < 1
    assert touched.sum() == 113
    assert set(np.unique(factor[:, touched])) == {0.25, 0.5}
    assert (factor[6:9, touched] == 0.25).all() and (factor[9:, touched] == 0.5).all()
    assert (factor[:, ~touched] == 1).all()
    limited = ~np.isnan(effects.traffic.speed_limit[0])
    assert effects.touched[2]["roads"] == int(limited.sum()) > 0
    assert np.nanmax(effects.traffic.speed_limit) == 30
    assert set(np.unique(effects.traffic.ev_share[:, touched])) == {0.4}
    assert np.isnan(effects.traffic.ev_share[:, ~touched]).all()


def test_building_and_weather_effects():
    effects = effects_of(
        f"{{geometry: '{CENTRE}', effect: {{type: building_retrofit, share: 0.5}}}}",
        f"{{geometry: '{CENTRE}', effect: {{type: rooftop_pv, share: 0.3}}}}",
        "{start: 2026-11-03T12:00:00Z, effect: {type: meteorology, temperature: -5, "
        "wind_from: 90}}",
    )
    measures, weather = effects.buildings, effects.meteorology
    inside = measures.retrofit[0] > 0
    assert inside.sum() == effects.touched[0]["buildings"] > 0
    assert (measures.pv[:, inside] == 0.3).all() and (measures.heat_pump == 0).all()
    assert (weather.temperature[12:] == -5).all() and (weather.wind_from[12:] == 90).all()
    default = demo_weather(TIMES)
    np.testing.assert_array_equal(weather.temperature[:12], default.temperature[:12])
    np.testing.assert_array_equal(weather.wind_speed, default.wind_speed)
    assert effects.touched[2] == {"intervention": "#2", "type": "meteorology", "steps": 12}


def test_json_reads_as_yaml_does():
    path = ROOT / "scenarios" / "centre-low-traffic.yaml"
    from_yaml = parse_scenario(path.read_bytes())
    from_json = parse_scenario(orjson.dumps(from_yaml.canonical()))
    assert from_json == from_yaml
