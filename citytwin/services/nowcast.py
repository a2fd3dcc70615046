"""The nowcast run shared by the CLI and the API: readings → grid → model → layer store."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from citytwin.core.grid import DEFAULT_CELL_SIZE, DEFAULT_MAX_CELLS, city_grid
from citytwin.db.pool import Connection
from citytwin.db.queries.layers import step_means, variable_unit
from citytwin.errors import InvalidParameter
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance, hash_readings
from citytwin.layers.store import LayerStore
from citytwin.sim.nowcast import IdwParameters, idw_nowcast, time_steps

MODEL = "observed-nowcast-idw"
SUPPORT = "nearest_sensor_distance"


@dataclass(frozen=True)
class NowcastRequest:
    """What to nowcast: a variable over [start, end) on a grid of `cell_size` metres."""

    variable: str
    start: datetime
    end: datetime
    cell_size: float = DEFAULT_CELL_SIZE
    idw: IdwParameters = field(default_factory=IdwParameters)


async def run_nowcast(
    conn: Connection,
    store: LayerStore,
    boundary: BaseGeometry,
    request: NowcastRequest,
    max_cells: int = DEFAULT_MAX_CELLS,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    """Nowcast `request` from the stored readings into `store`; return the layer id (an
    identical earlier run's layer is reused, nothing is computed again)."""
    grid = city_grid(boundary, request.cell_size, max_cells)
    times = time_steps(request.start, request.end, request.idw.step_seconds)
    # Whole steps: [start floored to a step, end rounded up to one).
    first = times[0].tz_localize("UTC").to_pydatetime()
    last = (times[-1] + times.freq).tz_localize("UTC").to_pydatetime()
    variable_id, unit = await variable_unit(conn, request.variable)
    readings = await step_means(conn, variable_id, first, last, request.idw.step_seconds)
    if readings.empty:
        raise InvalidParameter(
            "start",
            f"no {request.variable} readings between {first:%FT%TZ} and {last:%FT%TZ}",
        )
    provenance = Provenance(
        model=MODEL,
        parameters={"variable": request.variable, "grid": grid.as_dict(), **request.idw.as_dict()},
        input_start=first,
        input_end=last,
        inputs_hash=hash_readings(readings),
    )
    layer_id = provenance.layer_id()
    if store.exists(layer_id):
        return layer_id
    nowcast = await asyncio.to_thread(
        idw_nowcast, readings, grid, times, request.idw, scheduler, on_progress
    )
    layer = build_layer(
        grid,
        times,
        [
            LayerVariable(
                request.variable,
                nowcast.value,
                unit,
                cell_methods="time: mean",
                ancillary_variables=SUPPORT,
            ),
            LayerVariable(
                SUPPORT, nowcast.support, "m", long_name="distance to the nearest reporting sensor"
            ),
        ],
        attrs={
            "title": f"Observed nowcast of {request.variable}",
            "source": "citytwin sensor readings, inverse-distance weighted",
            "time_step_seconds": request.idw.step_seconds,
        },
    )
    return await asyncio.to_thread(store.write, layer, provenance)
