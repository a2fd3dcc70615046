"""A scenario run: baseline (computed once, then reused from the layer store), the scenario
with its interventions, and their difference, each an immutable layer."""

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import orjson

from citytwin.core.city import City
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance
from citytwin.layers.selection import difference
from citytwin.layers.store import LayerStore
from citytwin.scenarios.effects import Effects, compile_effects
from citytwin.scenarios.inputs import CityInputs
from citytwin.scenarios.models import ModelPass, RunControl, default_parameters, models_for
from citytwin.scenarios.spec import Scenario
from citytwin.sim.mobile_sensors import excluded_sensors
from citytwin.sim.observed_weather import weather_sources

BASELINE = "baseline"
CALIBRATION_ATTR = "citytwin_calibration"


@dataclass(frozen=True)
class RunResult:
    """The layers a run produced (`layer` is `baseline` when there are no interventions)."""

    layer: str
    baseline: str
    diff: str | None
    touched: list[dict]


def _provenance(
    scenario: Scenario, inputs: CityInputs, parameters: dict[str, Any], baseline_id: str | None
) -> Provenance:
    models = models_for(scenario.baseline.variables)
    used = {
        "grid": inputs.grid.as_dict(),
        "variables": list(scenario.baseline.variables),
        "meteorology": {
            "climatology": inputs.climatology.as_dict(),
            **weather_sources(set(inputs.readings)),
        },
        **{model.name: parameters[model.name].as_dict() for model in models},
        **excluded_sensors(list(inputs.mobile)),
    }
    if baseline_id is not None:
        used |= {"baseline_layer": baseline_id, "scenario": scenario.canonical()}
    return Provenance(
        model="+".join(model.name for model in models),
        parameters=used,
        input_start=inputs.start,
        input_end=inputs.end,
        inputs_hash=inputs.inputs_hash,
        scenario=BASELINE if baseline_id is None else scenario.name,
    )


def for_city(parameters: dict[str, Any], city: City) -> dict[str, Any]:
    """Each model's parameters with the city's time zone, longitude and model step in the
    fields of those names it has (all recorded in the provenance)."""
    values = {
        "timezone": city.timezone,
        "longitude": round(city.longitude, 4),
        "step_seconds": city.step_seconds,
    }
    out = {}
    for name, chosen in parameters.items():
        names = {f.name for f in fields(chosen)} if is_dataclass(chosen) else set()
        taken = {k: v for k, v in values.items() if k in names}
        out[name] = replace(chosen, **taken) if taken else chosen
    return out


def simulate(
    inputs: CityInputs,
    scenario: Scenario,
    parameters: dict[str, Any],
    run: ModelPass,
    calibrations: dict[str, Any] | None = None,
) -> tuple[list[LayerVariable], dict[str, Any]]:
    """The layer variables of one pass of the scenario's models and their calibration reports
    by model name; `calibrations` (the baseline's) are handed back to each model, or None for
    the baseline pass, which fits them."""
    wanted = scenario.baseline.variables
    out: list[LayerVariable] = []
    reports: dict[str, Any] = {}
    for model in models_for(wanted):
        fitted = None if calibrations is None else calibrations.get(model.name)
        output = model.run(inputs, parameters[model.name], replace(run, calibration=fitted))
        out += model.layer_variables(output, wanted)
        reports[model.name] = output.calibration
    return out, reports


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
            "source": f"citytwin models: {', '.join(calibration) or 'none'}",
            "time_step_seconds": inputs.step_seconds,
            CALIBRATION_ATTR: orjson.dumps(calibration).decode(),
        },
    )
    return store.write(layer, replace(provenance, skill=cross_validated(calibration)))


def cross_validated(calibration: dict[str, Any]) -> dict | None:
    """The leave-one-station-out tables of the models' calibration reports, by variable."""
    skill = {
        variable: fit["leave_one_out"]
        for report in calibration.values()
        if isinstance(report, dict)
        for variable, fit in report.items()
        if isinstance(fit, dict) and "leave_one_out" in fit
    }
    return skill or None


def stored_calibrations(store: LayerStore, layer_id: str) -> dict[str, Any]:
    """The calibration reports stored with a baseline layer, by model name."""
    return orjson.loads(store.attributes(layer_id).get(CALIBRATION_ATTR, "{}"))


def run_scenario(
    scenario: Scenario,
    inputs: CityInputs,
    effects: Effects,
    store: LayerStore,
    control: RunControl,
    parameters: dict[str, Any] | None = None,
) -> RunResult:
    """Baseline, scenario and difference layers of `scenario`, whose interventions are
    `effects` (synchronous: run it in a thread). RunCancelled if cancelled; nothing partial
    is left in the store either way."""
    parameters = for_city(parameters or default_parameters(), inputs.city)
    weather = inputs.weather()
    control.stage("starting", 0.02)
    none = compile_effects(
        scenario.model_copy(update={"interventions": ()}),
        inputs.grid,
        inputs.times,
        inputs.roads,
        inputs.buildings,
        weather,
    )
    provenance = _provenance(scenario, inputs, parameters, None)
    baseline_id = provenance.layer_id()
    has_scenario = bool(scenario.interventions)
    split = 0.47 if has_scenario else 0.95
    if not store.exists(baseline_id):
        baseline = ModelPass(none, None, control, "baseline", 0.05, split)
        variables, calibration = simulate(inputs, scenario, parameters, baseline)
        control.stage("writing baseline layer", split)
        title = f"Baseline {inputs.start:%Y-%m-%d} to {inputs.end:%Y-%m-%d}"
        provenance = replace(provenance, fallbacks=inputs.fallbacks())
        _write(store, inputs, variables, provenance, title, calibration)
    if not has_scenario:
        control.stage("done", 1.0)
        return RunResult(baseline_id, baseline_id, None, [])
    changed = ModelPass(effects, None, control, "scenario", 0.5, 0.92)
    calibrations = stored_calibrations(store, baseline_id)
    variables, _ = simulate(inputs, scenario, parameters, changed, calibrations)
    control.stage("writing scenario layer", 0.93)
    scenario_provenance = _provenance(scenario, inputs, parameters, baseline_id)
    layer_id = _write(store, inputs, variables, scenario_provenance, scenario.name, {})
    control.stage("writing difference layer", 0.97)
    diff, diff_provenance = difference(
        store.open(layer_id), store.open(baseline_id), layer_id, baseline_id
    )
    diff_id = store.write(diff, diff_provenance)
    control.stage("done", 1.0)
    return RunResult(layer_id, baseline_id, diff_id, effects.touched)
