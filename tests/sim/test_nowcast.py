"""IDW nowcast against hand-computed answers; determinism; a Dask cluster gives the same."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from distributed import LocalCluster

from citytwin.errors import InvalidParameter
from citytwin.sim.nowcast import IdwParameters, idw_graph, idw_nowcast, sensor_matrix, time_steps
from tests.sim.cases import GRID, START, TIMES, VALUES_A, VALUES_B, A, B, readings


def test_time_steps_are_whole_steps_with_end_exclusive():
    steps = time_steps(
        datetime(2026, 11, 2, 0, 30, tzinfo=UTC), datetime(2026, 11, 2, 3, tzinfo=UTC), 3600
    )
    assert steps.strftime("%H:%M").tolist() == ["00:00", "01:00", "02:00"]
    assert time_steps(START, datetime(2026, 11, 2, 2, 1, tzinfo=UTC), 3600).size == 3
    with pytest.raises(InvalidParameter) as error:
        time_steps(START, START, 3600)
    assert error.value.parameter == "end"


def test_exact_at_sensor_cells():
    result = idw_nowcast(readings(), GRID, TIMES)
    assert result.value.shape == result.support.shape == (4, 8, 10)
    assert result.value.dtype == np.float32
    assert result.value[:, *A].tolist() == VALUES_A
    assert result.value[:, *B].tolist() == VALUES_B
    assert np.all(result.support[:, *A] < 1e-3)


def test_known_answers_between_two_sensors():
    result = idw_nowcast(readings(), GRID, TIMES)
    a, b = np.array(VALUES_A), np.array(VALUES_B)
    # Halfway (300 m from each): the mean. 200 m from A, 400 m from B: weights 1/200² and 1/400².
    np.testing.assert_allclose(result.value[:, 2, 4], (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(result.value[:, 2, 3], (4 * a + b) / 5, rtol=1e-6)
    # Three rows down from (2, 4) the distances are equal again.
    np.testing.assert_allclose(result.value[:, 5, 4], (a + b) / 2, rtol=1e-6)
    # Everything lies between the two sensors' values.
    assert np.all(result.value >= a[:, None, None]) and np.all(result.value <= b[:, None, None])


def test_support_is_the_distance_to_the_nearest_sensor():
    result = idw_nowcast(readings(), GRID, TIMES)
    assert result.support[0, 2, 3] == pytest.approx(200.0, abs=1e-3)
    assert result.support[0, 2, 4] == pytest.approx(300.0, abs=1e-3)
    assert result.support[0, 5, 4] == pytest.approx(np.hypot(300, 300), abs=1e-3)
    assert result.support[0, 7, 9] == pytest.approx(np.hypot(500, 200), abs=1e-3)


def test_a_missing_reading_leaves_the_other_sensor():
    result = idw_nowcast(readings(values_b=[50.0, None, 70.0, 80.0]), GRID, TIMES)
    assert np.all(result.value[1] == np.float32(20.0))
    assert result.support[1, *B] == pytest.approx(600.0, abs=1e-3)  # A is 600 m away


def test_power_and_search_radius():
    a, b = np.array(VALUES_A), np.array(VALUES_B)
    linear = idw_nowcast(readings(), GRID, TIMES, IdwParameters(power=1))
    np.testing.assert_allclose(linear.value[:, 2, 3], (2 * a + b) / 3, rtol=1e-6)
    near = idw_nowcast(readings(), GRID, TIMES, IdwParameters(search_radius=250))
    assert near.value[:, 2, 3].tolist() == VALUES_A  # only A within 250 m
    assert np.all(np.isnan(near.value[:, 2, 4]))  # nobody within 250 m
    assert near.support[0, 2, 4] == pytest.approx(300.0, abs=1e-3)  # support ignores the radius
    # 21 centres lie within 250 m of a centre (5 x 5 less the corners); A is one column from the
    # grid's west edge, which cuts 3 of its 21.
    assert np.count_nonzero(~np.isnan(near.value[0])) == 18 + 21


def test_readings_within_a_step_are_averaged():
    frame = readings()
    extra = frame.iloc[[0]].assign(
        time=frame["time"].iloc[0] + pd.Timedelta(minutes=30), value=20.0
    )
    result = idw_nowcast(pd.concat([frame, extra]), GRID, TIMES)
    assert result.value[0, *A] == 15.0


def test_bad_parameters_name_themselves():
    for parameters, name in (
        (IdwParameters(power=0), "power"),
        (IdwParameters(search_radius=-1), "search_radius"),
    ):
        with pytest.raises(InvalidParameter) as error:
            idw_nowcast(readings(), GRID, TIMES, parameters)
        assert error.value.parameter == name
    with pytest.raises(InvalidParameter, match="missing columns: value"):
        idw_nowcast(readings().drop(columns="value"), GRID, TIMES)
    later = time_steps(datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC), 3600)
    with pytest.raises(InvalidParameter, match="no readings inside the time steps"):
        idw_nowcast(readings(), GRID, later)


def test_bit_identical_whatever_the_row_order_and_chunking():
    first = idw_nowcast(readings(), GRID, TIMES)
    shuffled = readings().sample(frac=1.0, random_state=3)
    second = idw_nowcast(shuffled, GRID, TIMES)
    assert first.value.tobytes() == second.value.tobytes()
    assert first.support.tobytes() == second.support.tobytes()
    # One block per step instead of one block for all steps: the same bytes.
    sx, sy, values = sensor_matrix(readings(), GRID, TIMES, 3600)
    graph = idw_graph(values, sx, sy, GRID, IdwParameters(), time_chunk=1)
    assert graph.numblocks == (4, 1, 1, 1)
    chunked = graph.compute(scheduler="sync")
    assert chunked[:, 0].tobytes() == first.value.tobytes()


def test_progress_is_reported_to_the_end():
    seen = []
    idw_nowcast(readings(), GRID, TIMES, on_progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]


def test_a_local_cluster_gives_the_same_result():
    times = time_steps(START, datetime(2026, 11, 4, tzinfo=UTC), 3600)  # 48 steps: two time chunks
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "lon": np.repeat(9.50 + 0.01 * rng.random(6), 48),
            "lat": np.repeat(47.15 + 0.01 * rng.random(6), 48),
            "time": np.tile(times.tz_localize("UTC"), 6),
            "value": rng.gamma(2.0, 10.0, 6 * 48),
        }
    )
    local = idw_nowcast(frame, GRID, times)
    progress = []
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = idw_nowcast(
            frame,
            GRID,
            times,
            scheduler=cluster.scheduler_address,
            on_progress=lambda d, t: progress.append((d, t)),
        )
    assert remote.value.tobytes() == local.value.tobytes()
    assert remote.support.tobytes() == local.support.tobytes()
    assert progress[-1] == (2, 2)  # two blocks, both reported
