"""The models a scenario can run, named once: what each produces, what it reads, and how it is
called. A new model is one module that calls `register` (see docs/architecture.md)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from citytwin.errors import RunCancelled
from citytwin.layers.cf import LayerVariable

if TYPE_CHECKING:
    from citytwin.scenarios.effects import Effects
    from citytwin.scenarios.inputs import CityInputs

Report = Callable[[str, float], None]  # (stage, fraction of the whole run done)


class Parameters(Protocol):
    """A model's parameters: all of them go into the layer's provenance."""

    def as_dict(self) -> dict:
        """Plain JSON values."""
        ...


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
class ModelPass:
    """One pass of the models: its interventions, the baseline's calibration (None: fit it,
    this is the baseline), and its share [low, high] of the run's progress."""

    effects: "Effects"
    calibration: dict[str, Any] | None
    control: RunControl
    stage: str
    low: float
    high: float


@dataclass(frozen=True)
class ModelOutput:
    """What one model gives for a pass: its gridded variables and its calibration report
    (stored with the baseline and handed back to the scenario's pass)."""

    variables: dict[str, np.ndarray]
    calibration: Any


@dataclass(frozen=True)
class Model:
    """A registered model: the layer `variables` it produces (name -> unit, long name, CF cell
    methods), the feed variables it `reads`, the city's base layers it `needs` (roads,
    buildings) and `run(inputs, parameters, pass)`."""

    name: str
    variables: dict[str, tuple[str, str, str]]
    reads: tuple[str, ...]
    parameters: Callable[[], Parameters]
    run: Callable[["CityInputs", Any, ModelPass], ModelOutput]
    needs: tuple[str, ...] = ()

    def layer_variables(self, output: ModelOutput, wanted: tuple[str, ...]) -> list[LayerVariable]:
        """The output's grids of the `wanted` variables, as layer variables."""
        return [
            LayerVariable(name, output.variables[name], unit, long_name, cell_methods=methods)
            for name, (unit, long_name, methods) in self.variables.items()
            if name in wanted
        ]


MODELS: dict[str, Model] = {}


def register(model: Model) -> Model:
    """Add `model` to the registry; its variables must be new."""
    taken = {name for other in MODELS.values() for name in other.variables}
    clash = sorted(taken & set(model.variables))
    if model.name in MODELS or clash:
        raise ValueError(f"model {model.name!r} or its variables {clash} are registered already")
    MODELS[model.name] = model
    return model


def default_parameters() -> dict[str, Parameters]:
    """Each registered model's default parameters, by model name."""
    return {name: model.parameters() for name, model in MODELS.items()}


def known_variables() -> tuple[str, ...]:
    """Every variable some model produces, in registration order."""
    return tuple(name for model in MODELS.values() for name in model.variables)


def models_for(variables: tuple[str, ...]) -> list[Model]:
    """The models producing any of `variables`, in registration order."""
    return [model for model in MODELS.values() if set(model.variables) & set(variables)]


def needed_readings(variables: tuple[str, ...]) -> tuple[str, ...]:
    """The feed variables the models of `variables` read."""
    return tuple(name for model in models_for(variables) for name in model.reads)
