"""The nowcast run shared by the CLI and the API: readings → grid → model → layer store."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import pandas as pd
import xarray as xr

from citytwin.core.city import City
from citytwin.core.grid import DEFAULT_MAX_CELLS, Grid
from citytwin.db.pool import Connection
from citytwin.db.queries.layers import step_means, variable_unit
from citytwin.errors import InvalidParameter
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance, hash_readings
from citytwin.layers.store import LayerStore
from citytwin.sim.cross_validation import loso_skill
from citytwin.sim.kriging import KrigingParameters, fallback_steps
from citytwin.sim.mobile_sensors import excluded_sensors, fixed_sensors
from citytwin.sim.nowcast import IdwParameters, idw_nowcast, time_steps
from citytwin.sim.nowcast_kriging import kriging_nowcast, station_table

MODELS = {"kriging": "observed-nowcast-kriging", "idw": "observed-nowcast-idw"}
SUPPORT = "nearest_sensor_distance"  # the IDW nowcast's support variable
UNCERTAINTY = "kriging_standard_deviation"  # the kriging nowcast's uncertainty variable


@dataclass(frozen=True)
class NowcastRequest:
    """What to nowcast: a variable over [start, end) on a grid of `cell_size` metres (None: the
    city's), in steps of the city's model step."""

    variable: str
    start: datetime
    end: datetime
    cell_size: float | None = None
    method: str = "kriging"
    idw: IdwParameters = field(default_factory=IdwParameters)
    kriging: KrigingParameters = field(default_factory=KrigingParameters)

    def parameters(self) -> dict:
        """The chosen method's parameters (provenance)."""
        if self.method not in MODELS:
            known = ", ".join(MODELS)
            raise InvalidParameter("method", f"unknown method {self.method!r} (known: {known})")
        chosen = self.idw if self.method == "idw" else self.kriging
        return {**chosen.as_dict(), "step_seconds": self.idw.step_seconds}


async def run_nowcast(
    conn: Connection,
    store: LayerStore,
    city: City,
    request: NowcastRequest,
    max_cells: int = DEFAULT_MAX_CELLS,
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    """Nowcast `request` from the stored readings into `store`; return the layer id (an
    identical earlier run's layer is reused, nothing is computed again)."""
    grid = city.overridden(cell_size=request.cell_size).grid(max_cells)
    request = replace(request, idw=replace(request.idw, step_seconds=city.step_seconds))
    times = time_steps(request.start, request.end, request.idw.step_seconds)
    # Whole steps: [start floored to a step, end rounded up to one).
    first = times[0].tz_localize("UTC").to_pydatetime()
    last = (times[-1] + times.freq).tz_localize("UTC").to_pydatetime()
    variable_id, unit = await variable_unit(conn, request.variable)
    means = await step_means(conn, variable_id, first, last, request.idw.step_seconds)
    readings, mobile = fixed_sensors(means)
    if readings.empty:
        only = f" (mobile sensors left out: {', '.join(mobile)})" if mobile else ""
        raise InvalidParameter(
            "start",
            f"no {request.variable} readings{only} between {first:%FT%TZ} and {last:%FT%TZ}",
        )
    provenance = Provenance(
        model=MODELS[request.method],
        parameters={
            "variable": request.variable,
            "grid": grid.as_dict(),
            **request.parameters(),
            **excluded_sensors(mobile),
        },
        input_start=first,
        input_end=last,
        inputs_hash=hash_readings(readings),
    )
    layer_id = provenance.layer_id()
    if store.exists(layer_id):
        return layer_id
    make = _kriging_layer if request.method == "kriging" else _idw_layer
    layer, provenance = await asyncio.to_thread(
        make, readings, grid, times, request, unit, provenance, scheduler, on_progress
    )
    return await asyncio.to_thread(store.write, layer, provenance)


def _skill(
    readings: pd.DataFrame, grid: Grid, times: pd.DatetimeIndex, request: NowcastRequest
) -> dict:
    """The layer's leave-one-station-out scores (its method beside the baselines)."""
    stations = station_table(readings, grid, times, request.idw.step_seconds)
    table = loso_skill(
        stations.values, times, stations.points, stations.names, request.method, request.variable
    )
    return {request.variable: table}


def _kriging_layer(
    readings: pd.DataFrame,
    grid: Grid,
    times: pd.DatetimeIndex,
    request: NowcastRequest,
    unit: str,
    provenance: Provenance,
    scheduler: str | None,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[xr.Dataset, Provenance]:
    """The kriging nowcast as a layer, its provenance with skill and fallbacks."""
    stations = station_table(readings, grid, times, request.idw.step_seconds)
    value, deviation, used = kriging_nowcast(
        stations, grid, times, request.kriging, scheduler, on_progress
    )
    layer = build_layer(
        grid,
        times,
        [
            LayerVariable(
                request.variable,
                value,
                unit,
                cell_methods="time: mean",
                ancillary_variables=UNCERTAINTY,
            ),
            LayerVariable(
                UNCERTAINTY,
                deviation,
                unit,
                long_name=f"kriging standard deviation of {request.variable}",
            ),
        ],
        attrs={
            "title": f"Observed nowcast of {request.variable}",
            "source": "citytwin sensor readings, kriged with external drift (site type)",
            "time_step_seconds": request.idw.step_seconds,
        },
    )
    fallbacks = fallback_steps(times, used)
    return layer, replace(
        provenance, skill=_skill(readings, grid, times, request), fallbacks=fallbacks
    )


def _idw_layer(
    readings: pd.DataFrame,
    grid: Grid,
    times: pd.DatetimeIndex,
    request: NowcastRequest,
    unit: str,
    provenance: Provenance,
    scheduler: str | None,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[xr.Dataset, Provenance]:
    """The IDW nowcast as a layer, its provenance with skill."""
    nowcast = idw_nowcast(readings, grid, times, request.idw, scheduler, on_progress)
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
    return layer, replace(provenance, skill=_skill(readings, grid, times, request))
