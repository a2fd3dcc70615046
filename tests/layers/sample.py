"""A small known layer: the two-sensor IDW nowcast of tests/sim on its 10 x 8 grid."""

from datetime import UTC, datetime

import xarray as xr

from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance, hash_readings
from citytwin.sim.nowcast import IdwParameters, idw_nowcast
from tests.sim.cases import GRID, TIMES, readings


def sample_layer(parameters: IdwParameters | None = None) -> tuple[xr.Dataset, Provenance]:
    """The nowcast as a layer, with the provenance of its run."""
    parameters = parameters or IdwParameters()
    frame = readings()
    result = idw_nowcast(frame, GRID, TIMES, parameters)
    layer = build_layer(
        GRID,
        TIMES,
        [
            LayerVariable("no2", result.value, "µg/m³", cell_methods="time: mean"),
            LayerVariable("nearest_sensor_distance", result.support, "m"),
        ],
        attrs={"title": "test nowcast", "time_step_seconds": 3600},
    )
    provenance = Provenance(
        model="observed-nowcast-idw",
        parameters={"variable": "no2", "grid": GRID.as_dict(), **parameters.as_dict()},
        input_start=datetime(2026, 11, 2, tzinfo=UTC),
        input_end=datetime(2026, 11, 2, 4, tzinfo=UTC),
        inputs_hash=hash_readings(frame),
    )
    return layer, provenance
