"""A layer's skill: its leave-one-station-out scores (kept in its provenance when it was made)
beside its in-sample fit to the sensors of its time span."""

import pandas as pd

from citytwin.core.skill import FAIRMODE, scores
from citytwin.db.pool import Connection
from citytwin.db.queries.layers import step_means
from citytwin.errors import Conflict
from citytwin.layers.cf import variable_names
from citytwin.layers.selection import step_seconds, steps_between, unit_of
from citytwin.layers.store import LayerStore
from citytwin.layers.validation import sample_at_sensors, validate
from citytwin.sim.mobile_sensors import excluded_sensors, fixed_sensors

NO_LOSO = (
    "this layer was not made from sensors by a model that can leave one out (a difference "
    "layer, or a layer stored before cross-validation): only its in-sample fit is known"
)


async def validation(
    conn: Connection, store: LayerStore, layer_id: str, variables: dict[str, int]
) -> dict:
    """Leave-one-station-out scores and the in-sample fit of a layer; Conflict when no sensor
    measured any of its variables in its time span."""
    layer = store.open(layer_id)
    provenance = store.provenance(layer_id)
    window = steps_between(layer, None, None)
    step = step_seconds(layer)
    measured = [name for name in variable_names(layer) if name in variables]
    answers, frames, mobile = {}, [], set()
    for name in measured:
        all_means = await step_means(conn, variables[name], window.start, window.end, step)
        means, left_out = fixed_sensors(all_means)
        mobile.update(left_out)
        samples = sample_at_sensors(layer, name, means)
        answers[name] = {"unit": unit_of(layer, name), **validate(samples, FAIRMODE.get(name))}
        frames.append(samples)
    if not any(len(frame) for frame in frames):
        names = ", ".join(measured) or "none of its variables is measured by a sensor"
        raise Conflict(
            f"no sensor readings of the layer's variables ({names}) between "
            f"{window.start:%Y-%m-%dT%H:%M:%SZ} and {window.end:%Y-%m-%dT%H:%M:%SZ} on its "
            "grid: there is nothing to validate it against"
        )
    pooled = pd.concat(frames)
    return {
        "layer": layer_id,
        "start": window.start,
        "end": window.end,
        "leave_one_out": provenance.skill,
        **({} if provenance.skill else {"leave_one_out_missing": NO_LOSO}),
        "in_sample": {
            "note": "the layer against the very sensors it was made from: not skill where "
            "there is no sensor",
            "variables": answers,
            "overall": scores(pooled["observed"].to_numpy(), pooled["modelled"].to_numpy()),
        },
        "fallbacks": provenance.fallbacks,
        **excluded_sensors(list(mobile)),
    }


def summary_rows(answer: dict) -> list[tuple[str, str, dict]]:
    """(variable, method or "in_sample", overall scores) rows of a validation answer."""
    rows = []
    for variable, table in (answer["leave_one_out"] or {}).items():
        for method, entry in table["methods"].items():
            rows.append((variable, method, entry["overall"]))
    for variable, fit in answer["in_sample"]["variables"].items():
        rows.append((variable, "in_sample", fit["overall"]))
    return rows
