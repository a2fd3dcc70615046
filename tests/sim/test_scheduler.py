"""Where the road increment runs: the same arrays without Dask, on threads and on a LocalCluster
of worker processes; a scheduler that is not there is a clear error."""

import dask
import numpy as np
import pytest
from pydantic import ValidationError
from scipy import sparse

from citytwin.core.grid import Grid
from citytwin.errors import SchedulerUnavailable
from citytwin.settings import SimulationSettings
from citytwin.sim.air_quality import increment_block, increment_graph
from citytwin.sim.dispersion import PlumeParameters
from citytwin.sim.meteorology import Meteorology
from citytwin.sim.scheduler import compute, simulation_scheduler

GRID = Grid(32632, 50.0, 537_500.0, 5_226_900.0, nx=48, ny=40)
STEPS, ROADS = 6, 12
PLUME = PlumeParameters(max_distance=800.0)


def inputs() -> tuple[np.ndarray, Meteorology, sparse.csr_array, np.ndarray]:
    """(time, road, pollutant) rates, the hours' weather, a road raster and Pasquill classes."""
    rng = np.random.default_rng(17)
    rates = rng.gamma(2.0, 0.05, (STEPS, ROADS, 3))
    raster = sparse.random_array(
        (GRID.nx * GRID.ny, ROADS), density=0.05, random_state=rng, format="csr"
    )
    weather = Meteorology(
        wind_speed=rng.uniform(0.5, 6.0, STEPS),
        wind_from=rng.uniform(0.0, 360.0, STEPS),
        temperature=np.full(STEPS, 10.0),
        mixing_height=rng.uniform(150.0, 900.0, STEPS),
    )
    return rates, weather, raster, np.array(list("ABCDEF"))


def plain_increment() -> np.ndarray:
    """The same FFT code over every step at once, without Dask."""
    rates, weather, raster, classes = inputs()
    return increment_block(
        rates,
        weather.wind_speed,
        weather.wind_from,
        weather.mixing_height,
        classes,
        raster=raster,
        grid=GRID,
        plume=PLUME,
    )


def graph() -> dask.array.Array:
    rates, weather, raster, classes = inputs()
    return increment_graph(rates, weather, raster, GRID, PLUME, stability=classes)


def test_the_local_cluster_of_processes_computes_the_plain_arrays():
    plain = plain_increment()
    assert plain.shape == (STEPS, 3, GRID.ny, GRID.nx)
    assert plain.max() > 0
    threads = compute(graph())
    progress = []
    with simulation_scheduler(SimulationSettings(dask_workers=2)) as address:
        assert address.startswith("tcp://127.0.0.1:")
        # Two worker processes, not threads of this one.
        from distributed import Client

        with Client(address, set_as_default=False) as client:
            workers = client.scheduler_info()["workers"].values()
            assert len(workers) == 2
        clustered = compute(graph(), address, lambda done, total: progress.append((done, total)))
    np.testing.assert_allclose(threads, plain, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(clustered, plain, rtol=1e-6, atol=1e-12)
    assert progress[-1] == (3, 3)  # three two-hour blocks, all collected


def test_a_scheduler_address_wins_and_none_means_threads():
    with simulation_scheduler(SimulationSettings(dask_scheduler="tcp://10.0.0.5:8786")) as given:
        assert given == "tcp://10.0.0.5:8786"
    with simulation_scheduler(SimulationSettings()) as default:
        assert default is None


def test_a_scheduler_that_is_not_there_is_a_clear_error():
    unreachable = r"no Dask scheduler at 'tcp://127.0.0.1:9' \(CITYTWIN_DASK_SCHEDULER\)"
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(SchedulerUnavailable, match=unreachable),
    ):
        compute(graph(), "tcp://127.0.0.1:9")
    with pytest.raises(SchedulerUnavailable, match="missing port number in address 'dask-host'"):
        compute(graph(), "dask-host")


def test_workers_and_an_address_together_are_refused():
    with pytest.raises(ValidationError, match="CITYTWIN_DASK_WORKERS"):
        SimulationSettings(dask_scheduler="tcp://10.0.0.5:8786", dask_workers=2)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        SimulationSettings(dask_workers=0)
