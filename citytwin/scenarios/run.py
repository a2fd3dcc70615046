"""A scenario run: baseline (computed once, then reused from the layer store), the scenario
with its interventions, and their difference, each an immutable layer."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import orjson

from citytwin.errors import RunCancelled
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance
from citytwin.layers.query import difference
from citytwin.layers.store import LayerStore
from citytwin.scenarios.effects import Effects, compile_effects
from citytwin.scenarios.inputs import STEP_SECONDS, CityInputs
from citytwin.scenarios.spec import AIR_VARIABLES, ENERGY_VARIABLES, Scenario
from citytwin.sim import energy as building_energy
from citytwin.sim.air_quality import (
    AirParameters,
    background,
    calibrate,
    concentrations,
    increment_graph,
    road_rates,
)
from citytwin.sim.emissions import POLLUTANTS, road_raster
from citytwin.sim.meteorology import valley_climatology
from citytwin.sim.scheduler import compute
from citytwin.sim.traffic import road_traffic

BASELINE = "baseline"
CALIBRATION_ATTR = "citytwin_calibration"
Report = Callable[[str, float], None]  # (stage, fraction of the whole run done)


@dataclass
class RunControl:
    """How a run reports progress and learns it is cancelled (shared with its job)."""

    report: Report = field(default=lambda stage, fraction: None)
    cancelled: threading.Event = field(default_factory=threading.Event)
    scheduler: str | None = None

    def stage(self, name: str, fraction: float) -> None:
        """Enter a stage at `fraction` of the run; RunCancelled if cancellation was asked."""
        if self.cancelled.is_set():
            raise RunCancelled(f"cancelled during {name}")
        self.report(name, fraction)

    def tasks(self, name: str, low: float, high: float) -> Callable[[int, int], None]:
        """A Dask progress callback spreading (done, total) tasks over [low, high]."""

        def on_progress(done: int, total: int) -> None:
            self.stage(name, low + (high - low) * done / max(total, 1))

        return on_progress


@dataclass(frozen=True)
class RunResult:
    """The layers a run produced (`layer` is `baseline` when there are no interventions)."""

    layer: str
    baseline: str
    diff: str | None
    touched: list[dict]


@dataclass(frozen=True)
class ModelSettings:
    """The models' parameters (all in the provenance)."""

    air: AirParameters = field(default_factory=AirParameters)
    energy: building_energy.EnergyParameters = field(
        default_factory=building_energy.EnergyParameters
    )

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {"air": self.air.as_dict(), "energy": self.energy.as_dict()}


def _provenance(
    scenario: Scenario, inputs: CityInputs, models: ModelSettings, baseline_id: str | None
) -> Provenance:
    variables = scenario.baseline.variables
    names = []
    if any(name in AIR_VARIABLES for name in variables):
        names.append("traffic-air-quality")
    if any(name in ENERGY_VARIABLES for name in variables):
        names.append("building-energy")
    parameters = {
        "grid": inputs.grid.as_dict(),
        "variables": list(variables),
        "meteorology": "valley-climatology",
        **models.as_dict(),
    }
    if baseline_id is not None:
        parameters |= {"baseline_layer": baseline_id, "scenario": scenario.canonical()}
    return Provenance(
        model="+".join(names),
        parameters=parameters,
        input_start=inputs.start,
        input_end=inputs.end,
        inputs_hash=inputs.inputs_hash,
        scenario=BASELINE if baseline_id is None else scenario.name,
    )


@dataclass(frozen=True)
class ModelPass:
    """One pass of the models: its interventions, the baseline's calibration factors (None:
    fit them, this is the baseline), and its share [low, high] of the run's progress."""

    effects: Effects
    factors: dict[str, float] | None
    control: RunControl
    stage: str
    low: float
    high: float


def _air(
    inputs: CityInputs, models: ModelSettings, run: ModelPass
) -> tuple[dict[str, np.ndarray], dict]:
    """Concentration grids of the pollutants and the calibration (fitted when the pass has no
    factors, i.e. for the baseline)."""
    effects, factors = run.effects, run.factors
    readings = inputs.readings
    traffic = road_traffic(inputs.roads, inputs.times, readings["vehicle_count"], readings["speed"])
    rates = road_rates(traffic, effects.traffic, models.air.fleet)
    raster = road_raster(inputs.roads, inputs.grid)
    graph = increment_graph(rates, effects.meteorology, raster, inputs.grid, models.air.plume)
    progress = run.control.tasks(run.stage, run.low, run.high)
    increment = compute(graph, run.control.scheduler, progress)
    q = models.air.background_quantile
    backgrounds = {p: background(readings[p], inputs.times, q) for p in POLLUTANTS}
    report = {}
    if factors is None:
        fitted = calibrate(increment, backgrounds, readings, inputs.grid, inputs.times)
        factors, report = fitted.factors, fitted.report
    return concentrations(increment, backgrounds, factors), report


def _energy(
    inputs: CityInputs, effects: Effects, models: ModelSettings
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Hourly demand and daily peak load per grid cell, calibrated against the meters in the
    baseline; the scenario's measures and temperature applied."""
    params, buildings, times = models.energy, inputs.buildings, inputs.times
    baseline_weather = valley_climatology(times)
    raw = building_energy.raw_demand(buildings, times, baseline_weather.temperature, params)
    calibration = building_energy.calibrate(buildings, times, raw, inputs.readings["energy_kwh"])
    temperature = effects.meteorology.temperature
    scenario_raw = (
        raw  # the baseline's weather: the same demand, not computed again
        if np.array_equal(temperature, baseline_weather.temperature)
        else building_energy.raw_demand(buildings, times, temperature, params)
    )
    demand = building_energy.apply_measures(
        scenario_raw * calibration.factors,
        buildings,
        times,
        effects.buildings,
        params,
        temperature,
    )
    cells = building_energy.demand_grid(demand, buildings, inputs.grid)
    peak = building_energy.daily_peak(cells, times, STEP_SECONDS)
    report = orjson.loads(calibration.report.to_json(orient="records"))
    return {"energy_demand": cells, "peak_load": peak}, report


ENERGY_META = {
    "energy_demand": ("kWh", "energy demand of the buildings", "time: sum"),
    "peak_load": ("kW", "daily peak load of the buildings", "time: maximum within days"),
}


def simulate(
    inputs: CityInputs, scenario: Scenario, models: ModelSettings, run: ModelPass
) -> tuple[list[LayerVariable], dict]:
    """The layer variables of one model run and its calibration report."""
    variables = scenario.baseline.variables
    out: list[LayerVariable] = []
    calibration: dict = {}
    if any(name in AIR_VARIABLES for name in variables):
        grids, calibration["air"] = _air(inputs, models, run)
        unit = "µg/m³"
        out += [
            LayerVariable(name, grids[name], unit, cell_methods="time: mean")
            for name in AIR_VARIABLES
            if name in variables
        ]
    if any(name in ENERGY_VARIABLES for name in variables):
        grids, calibration["energy"] = _energy(inputs, run.effects, models)
        for name in ENERGY_VARIABLES:
            if name in variables:
                unit, long_name, methods = ENERGY_META[name]
                out.append(LayerVariable(name, grids[name], unit, long_name, cell_methods=methods))
    return out, calibration


def _write(
    store: LayerStore,
    inputs: CityInputs,
    variables: list[LayerVariable],
    provenance: Provenance,
    title: str,
    calibration: dict,
) -> str:
    layer = build_layer(
        inputs.grid,
        inputs.times,
        variables,
        attrs={
            "title": title,
            "source": "citytwin traffic air-quality and building energy models",
            "time_step_seconds": STEP_SECONDS,
            CALIBRATION_ATTR: orjson.dumps(calibration).decode(),
        },
    )
    return store.write(layer, provenance)


def air_factors(store: LayerStore, layer_id: str) -> dict[str, float]:
    """The calibration factors stored with a baseline layer."""
    calibration = orjson.loads(store.attributes(layer_id).get(CALIBRATION_ATTR, "{}"))
    return {name: fit["factor"] for name, fit in calibration.get("air", {}).items()}


def run_scenario(
    scenario: Scenario,
    inputs: CityInputs,
    effects: Effects,
    store: LayerStore,
    control: RunControl,
    models: ModelSettings | None = None,
) -> RunResult:
    """Baseline, scenario and difference layers of `scenario`, whose interventions are
    `effects` (synchronous: run it in a thread). RunCancelled if cancelled; nothing partial
    is left in the store either way."""
    models = models or ModelSettings()
    weather = valley_climatology(inputs.times)
    control.stage("starting", 0.02)
    none = compile_effects(
        scenario.model_copy(update={"interventions": ()}),
        inputs.grid,
        inputs.times,
        inputs.roads,
        inputs.buildings,
        weather,
    )
    provenance = _provenance(scenario, inputs, models, None)
    baseline_id = provenance.layer_id()
    has_scenario = bool(scenario.interventions)
    split = 0.47 if has_scenario else 0.95
    if not store.exists(baseline_id):
        baseline = ModelPass(none, None, control, "baseline", 0.05, split)
        variables, calibration = simulate(inputs, scenario, models, baseline)
        control.stage("writing baseline layer", split)
        title = f"Baseline {inputs.start:%Y-%m-%d} to {inputs.end:%Y-%m-%d}"
        _write(store, inputs, variables, provenance, title, calibration)
    if not has_scenario:
        control.stage("done", 1.0)
        return RunResult(baseline_id, baseline_id, None, [])
    factors = air_factors(store, baseline_id)
    changed = ModelPass(effects, factors, control, "scenario", 0.5, 0.92)
    variables, _ = simulate(inputs, scenario, models, changed)
    control.stage("writing scenario layer", 0.93)
    scenario_provenance = _provenance(scenario, inputs, models, baseline_id)
    layer_id = _write(store, inputs, variables, scenario_provenance, scenario.name, {})
    control.stage("writing difference layer", 0.97)
    diff, diff_provenance = difference(
        store.open(layer_id), store.open(baseline_id), layer_id, baseline_id
    )
    diff_id = store.write(diff, diff_provenance)
    control.stage("done", 1.0)
    return RunResult(layer_id, baseline_id, diff_id, effects.touched)
