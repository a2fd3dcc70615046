"""A small known layer (the two-sensor IDW nowcast of tests/sim on its 10 x 8 grid), places on
its grid whose cells are known by hand, and the app serving a layer store."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import numpy as np
import shapely
import xarray as xr
from httpx import AsyncClient
from pyproj import Transformer
from shapely.geometry import Polygon, box

from citytwin.api.app import create_app
from citytwin.layers.cf import LayerVariable, build_layer
from citytwin.layers.provenance import Provenance, hash_readings
from citytwin.layers.store import LayerStore
from citytwin.settings import Settings
from citytwin.sim.nowcast import IdwParameters, idw_nowcast
from tests.asgi import asgi_client
from tests.sim.cases import GRID, TIMES, readings

TO_LONLAT = Transformer.from_crs(32632, 4326, always_xy=True)


def to_lonlat(polygon: shapely.Geometry) -> shapely.Geometry:
    """A UTM polygon as lon/lat (densified so its edges stay near straight)."""
    dense = shapely.segmentize(polygon, 10)
    return shapely.transform(dense, lambda xy: np.column_stack(TO_LONLAT.transform(*xy.T)))


# Cells (rows 1..3, cols 2..5) by their edges: x 537700..538100, y 5226500..5226800.
INNER = to_lonlat(box(537_720, 5_226_520, 538_080, 5_226_780))
# By hand: the grid's west edge is 537500 and its north edge 5226900 (100 m cells), so the
# centres inside INNER are x 537750..538050 (cols 2..5) and y 5226550..5226750 (rows 1..3);
# INNER's lon/lat bounds reach at most ~2 m beyond it (meridian convergence), far from the
# next centres 30 m away.
ROWS, COLS = slice(1, 4), slice(2, 6)
# A UTM triangle off every cell centre of the grid (x - y = const. 35 m from the nearest): it
# holds the cells with row >= 1, col >= 1 and row + col <= 8 (28 of a 7 x 7 window).
TRIANGLE = to_lonlat(Polygon([(537_600, 5_226_800), (538_350, 5_226_800), (537_600, 5_226_050)]))


def centres_in(layer: xr.Dataset, polygon: shapely.Geometry) -> np.ndarray:
    """(y, x) booleans: the cells whose lon/lat centres lie in `polygon`."""
    return shapely.contains_xy(polygon, layer["lon"].values, layer["lat"].values)


@asynccontextmanager
async def serve(settings: Settings, store: LayerStore) -> AsyncIterator[AsyncClient]:
    """The app with the layers and EDR routers over `store`."""
    async with asgi_client(create_app(settings), layer_store=store) as client:
        yield client


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
