"""The building energy model as a registry member: demand per building from footprint, levels,
use and age, calibrated to the smart meters in every pass, summed onto the grid."""

from typing import TYPE_CHECKING

import numpy as np
import orjson

from citytwin.scenarios.models.registry import Model, ModelOutput, ModelPass, register
from citytwin.sim import energy as building_energy

if TYPE_CHECKING:
    from citytwin.scenarios.inputs import CityInputs

ENERGY_VARIABLES = {
    "energy_demand": ("kWh", "energy demand of the buildings", "time: sum"),
    "peak_load": ("kW", "daily peak load of the buildings", "time: maximum within days"),
}


def run_energy(
    inputs: "CityInputs", params: building_energy.EnergyParameters, run: ModelPass
) -> ModelOutput:
    """Hourly demand and daily peak load per grid cell, calibrated against the meters in the
    baseline's weather; the pass's measures and temperature applied."""
    buildings, times = inputs.buildings, inputs.times
    baseline_weather = inputs.weather()
    raw = building_energy.raw_demand(buildings, times, baseline_weather.temperature, params)
    calibration = building_energy.calibrate(buildings, times, raw, inputs.readings["energy_kwh"])
    temperature = run.effects.meteorology.temperature
    scenario_raw = (
        raw  # the baseline's weather: the same demand, not computed again
        if np.array_equal(temperature, baseline_weather.temperature)
        else building_energy.raw_demand(buildings, times, temperature, params)
    )
    demand = building_energy.apply_measures(
        scenario_raw * calibration.factors,
        buildings,
        times,
        run.effects.buildings,
        params,
        temperature,
    )
    cells = building_energy.demand_grid(demand, buildings, inputs.grid)
    peak = building_energy.daily_peak(cells, times, inputs.step_seconds)
    report = orjson.loads(calibration.report.to_json(orient="records"))
    return ModelOutput({"energy_demand": cells, "peak_load": peak}, report)


BUILDING_ENERGY = register(
    Model(
        name="building-energy",
        variables=ENERGY_VARIABLES,
        reads=("energy_kwh",),
        parameters=building_energy.EnergyParameters,
        run=run_energy,
        needs=("buildings",),
    )
)
