"""The registry of scenario models and its built-in members (imported here to register)."""

from citytwin.scenarios.models import air, energy
from citytwin.scenarios.models.registry import (
    MODELS,
    Model,
    ModelOutput,
    ModelPass,
    RunControl,
    default_parameters,
    known_variables,
    models_for,
    needed_readings,
    register,
)

__all__ = [
    "MODELS",
    "Model",
    "ModelOutput",
    "ModelPass",
    "RunControl",
    "air",
    "default_parameters",
    "energy",
    "known_variables",
    "models_for",
    "needed_readings",
    "register",
]
