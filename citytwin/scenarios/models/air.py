"""The traffic air-quality model as a registry member: detector traffic on the roads ->
emissions -> FFT Gaussian plume, on a background from the sensors, calibrated on the baseline."""

from typing import TYPE_CHECKING

import numpy as np

from citytwin.scenarios.models.registry import Model, ModelOutput, ModelPass, register
from citytwin.sim.air_calibration import Chemistry, background, calibrate, ozone_background
from citytwin.sim.air_quality import AirParameters, concentrations, increment_graph, road_rates
from citytwin.sim.emissions import POLLUTANTS, primary_no2_share, road_raster
from citytwin.sim.near_source import receptor_correction
from citytwin.sim.scheduler import compute
from citytwin.sim.stability import pasquill_class
from citytwin.sim.traffic import road_traffic

if TYPE_CHECKING:
    from citytwin.scenarios.inputs import CityInputs

POLLUTANT_VARIABLES = {name: ("µg/m³", "", "time: mean") for name in ("no2", "pm25", "pm10")}


def run_air(inputs: "CityInputs", params: AirParameters, run: ModelPass) -> ModelOutput:
    """Concentration grids of the pollutants; the calibration is fitted when the pass has none
    (the baseline) and its report is the output's calibration."""
    readings = inputs.readings
    traffic = road_traffic(inputs.roads, inputs.times, readings["vehicle_count"], readings["speed"])
    rates = road_rates(traffic, run.effects.traffic, params.fleet)
    raster = road_raster(inputs.roads, inputs.grid)
    weather = run.effects.meteorology
    # Cloud and radiation where a feed measures them; the declared cloud cover elsewhere.
    measured = weather.measured("cloud_octas")
    cloud = np.where(np.isnan(measured), params.cloud_octas, measured)
    radiation = weather.measured("solar_radiation")
    classes = pasquill_class(weather.wind_speed, inputs.sun(), cloud, radiation)
    graph = increment_graph(rates, weather, raster, inputs.grid, params.plume, stability=classes)
    progress = run.control.tasks(run.stage, run.low, run.high)
    increment = compute(graph, run.control.scheduler, progress)
    q = params.background_quantile
    backgrounds = {p: background(readings[p], inputs.times, q) for p in POLLUTANTS}
    chemistry = Chemistry(readings.get("o3"), primary_no2_share(params.fleet))
    report = run.calibration
    if report is None:
        measured = ~np.isin(inputs.times.strftime("%Y-%m-%dT%H:%M:%SZ"), inputs.weather_gaps())
        near = {
            name: receptor_correction(
                readings[name],
                inputs.roads,
                rates,
                inputs.grid,
                inputs.times,
                weather,
                classes,
                params.plume,
                measured,
            )[:, index]
            for index, name in enumerate(POLLUTANTS)
        }
        fitted = calibrate(
            increment,
            backgrounds,
            readings,
            inputs.grid,
            inputs.times,
            q,
            inputs.step_seconds,
            near,
            chemistry,
        )
        report = fitted.report
    factors = {name: fit["factor"] for name, fit in report.items()}
    levels = {name: base.values for name, base in backgrounds.items()}
    ozone = ozone_background(chemistry.ozone, inputs.times, q)
    fields = concentrations(increment, levels, factors, ozone, chemistry.primary_share)
    return ModelOutput(fields, report)


AIR_QUALITY = register(
    Model(
        name="traffic-air-quality",
        variables=POLLUTANT_VARIABLES,
        reads=("vehicle_count", "speed", *POLLUTANT_VARIABLES),
        parameters=AirParameters,
        run=run_air,
        needs=("roads",),
    )
)
