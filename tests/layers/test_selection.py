"""Pure layer selections: grid, point, time window, H3 cell statistics."""

from datetime import UTC, datetime

import h3.api.basic_str as h3
import numpy as np
import pandas as pd
import pytest

from citytwin.errors import InvalidParameter
from citytwin.layers.cells import cell_statistics, grid_cells
from citytwin.layers.selection import (
    describe,
    grid_of,
    locate,
    pick_variable,
    point_series,
    time_window,
)
from tests.layers.sample import sample_layer
from tests.sim.cases import GRID


@pytest.fixture(scope="module")
def layer():
    dataset, provenance = sample_layer()
    dataset.attrs["citytwin_provenance"] = provenance.to_json()
    return dataset


def test_the_grid_is_read_back_from_the_layer(layer):
    assert grid_of(layer) == GRID


def test_describe(layer):
    meta = describe(layer, "f" * 32)
    assert [v["name"] for v in meta["variables"]] == ["no2", "nearest_sensor_distance"]
    assert meta["variables"][0]["unit"] == "µg/m³" and meta["variables"][1]["unit"] == "m"
    assert meta["grid"]["crs"] == "EPSG:32632"
    assert meta["grid"]["bounds"] == [537_500.0, 5_226_100.0, 538_500.0, 5_226_900.0]
    assert meta["time"] == {
        "start": datetime(2026, 11, 2, tzinfo=UTC),
        "end": datetime(2026, 11, 2, 4, tzinfo=UTC),
        "step_seconds": 3600,
        "steps": 4,
    }
    assert meta["provenance"]["model"] == "observed-nowcast-idw"


def test_a_point_falls_in_its_cell(layer):
    lon, lat = GRID.lonlat
    cell = locate(GRID, lon[2, 1] + 1e-5, lat[2, 1] - 1e-5)  # a metre off sensor A's centre
    assert (cell.row, cell.col, cell.x, cell.y) == (2, 1, 537_650.0, 5_226_650.0)
    series = point_series(layer, "no2", cell)
    assert [item["value"] for item in series] == [10.0, 20.0, 30.0, 40.0]
    assert series[3]["time"] == datetime(2026, 11, 2, 3, tzinfo=UTC)


def test_a_point_outside_the_grid_names_the_coordinate():
    lon, lat = GRID.lonlat
    for point, parameter in (
        ((9.4, lat[4, 5]), "lon"),  # west of the grid
        ((lon[4, 5], 47.3), "lat"),  # north of it
        ((lon[4, 5], lat[7, 5] - 0.0006), "lat"),  # 67 m south of the last row's centres
    ):
        with pytest.raises(InvalidParameter) as error:
            locate(GRID, *point)
        assert error.value.parameter == parameter, point


def test_variables_are_checked(layer):
    assert pick_variable(layer, None) == "no2"
    with pytest.raises(InvalidParameter, match="'o3' is not in the layer"):
        pick_variable(layer, "o3")


def test_time_window(layer):
    whole = time_window(layer, None)
    assert (whole.first, whole.stop) == (0, 4)
    step = time_window(layer, "2026-11-02T02:59:59Z")
    assert (step.first, step.stop, step.start.hour, step.end.hour) == (2, 3, 2, 3)
    with pytest.raises(InvalidParameter) as error:
        time_window(layer, "2026-11-02T04:00:00Z")
    assert error.value.parameter == "time"
    assert "2026-11-02T00:00:00Z/2026-11-02T04:00:00Z" in error.value.message


def test_grid_cells_are_indexed_like_sensors():
    lon, lat = GRID.lonlat
    cells = grid_cells(lon, lat, 8, base_resolution=10)
    expected = [
        h3.cell_to_parent(h3.latlng_to_cell(y, x, 10), 8)
        for x, y in zip(lon.ravel(), lat.ravel(), strict=True)
    ]
    assert [format(c, "x") for c in cells] == expected
    finer = grid_cells(lon, lat, 11, base_resolution=10)
    assert format(finer[0], "x") == h3.latlng_to_cell(lat[0, 0], lon[0, 0], 11)


def test_cell_statistics_match_pandas():
    values = np.array([[[1.0, 2.0], [3.0, np.nan]], [[5.0, 6.0], [7.0, 8.0]]], dtype=np.float32)
    cells = np.array([7, 7, 9, 9])
    stats = cell_statistics(values, cells).set_index("cell")
    assert stats.loc[7].tolist() == [4, 3.5, 1.0, 6.0, pytest.approx(np.std([1, 2, 5, 6], ddof=1))]
    assert stats.loc[9, "count"] == 3 and stats.loc[9, "mean"] == pytest.approx(6.0)
    single = cell_statistics(values[:1, :1, :1], np.array([5]))
    assert single["count"].tolist() == [1] and pd.isna(single["std"].iloc[0])
