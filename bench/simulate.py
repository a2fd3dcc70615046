"""Traffic air quality: 24 hours on a 1000 x 1000 grid by the same FFT code without Dask (the
baseline), on Dask's threads, and on Dask LocalClusters of 1 and 2 worker processes, all in one
run; and the same kernels by a direct convolution timed on a smaller grid and scaled."""

import importlib
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from common import figures_parser, print_figures
from distributed import Client
from rich.console import Console
from rich.table import Table
from scipy.signal import convolve

from citytwin.cli.demo import demo_sources
from citytwin.core.grid import Grid
from citytwin.ingest.city.build import build_city
from citytwin.settings import SimulationSettings
from citytwin.sim.air_quality import (
    AirParameters,
    TrafficMeasures,
    increment_block,
    increment_graph,
    road_rates,
)
from citytwin.sim.dispersion import plume_kernel
from citytwin.sim.emissions import POLLUTANTS, road_raster
from citytwin.sim.meteorology import city_climatology, climatology_weather
from citytwin.sim.nowcast import time_steps
from citytwin.sim.scheduler import compute, simulation_scheduler
from citytwin.sim.traffic import read_roads, road_traffic

ROOT = Path(__file__).resolve().parent.parent
HOURS = 24
SIZE = 1000  # cells a side
CELL = 10.0  # metres: 1000 x 1000 cells cover 10 x 10 km of Vaduz and its valley
DIRECT_SIZE = 40  # cells a side of the grid the direct convolution is timed on
START = pd.Timestamp("2026-11-03T00:00Z")  # a weekday of the demo week


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def city_inputs(size: int) -> tuple[Grid, pd.DatetimeIndex, np.ndarray, object, object]:
    """A size x size grid of CELL m from the city grid's north-west corner, its 24 hourly
    steps, the (time, road, pollutant) emission rates of the demo traffic and the road raster."""
    base = build_city(demo_sources(ROOT / "gis_data"))
    city = base.city.overridden(cell_size=CELL).grid(10**8)
    grid = Grid(city.epsg, CELL, city.west, city.north, size, size)
    times = time_steps(START, START + pd.Timedelta(hours=HOURS), base.city.step_seconds)
    roads = read_roads(base.roads, grid.epsg)
    detectors = pd.read_csv(ROOT / "sensors" / "samples" / "traffic.csv")
    detectors = detectors.rename(columns={"sensor_id": "sensor"})
    detectors["time"] = pd.to_datetime(detectors["time"], utc=True)
    traffic = road_traffic(
        roads,
        times,
        detectors[detectors["variable"] == "vehicle_count"],
        detectors[detectors["variable"] == "speed"],
    )
    rates = road_rates(traffic, TrafficMeasures.none(len(times), len(roads)), AirParameters().fleet)
    weather = climatology_weather(
        times, city_climatology(base.city.climatology), base.city.timezone
    )
    return grid, times, rates, road_raster(roads, grid), weather


def direct_seconds_per_field(kernel: np.ndarray, rng: np.random.Generator) -> float:
    """Seconds of a direct convolution of one DIRECT_SIZE² field with `kernel` (best of 3)."""
    field = rng.random((DIRECT_SIZE, DIRECT_SIZE))
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        convolve(field, kernel, mode="same", method="direct")
        best = min(best, time.perf_counter() - started)
    return best


def timed(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Seconds `run` took, and what it gave."""
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def cluster_run(workers: int, run: Callable[[str], np.ndarray]) -> tuple[float, float, np.ndarray]:
    """On a LocalCluster of `workers` processes started as the package starts it (with
    CITYTWIN_DASK_WORKERS): seconds to start it and have its workers import the model (paid
    once by a cluster that stays up), seconds of `run(address)`, and what it gave."""
    started = time.perf_counter()
    with simulation_scheduler(SimulationSettings(dask_workers=workers)) as address:
        with Client(address, set_as_default=False) as client:
            client.run(importlib.import_module, "citytwin.sim.air_quality")
        start_seconds = time.perf_counter() - started
        seconds, result = timed(lambda: run(address))
    return start_seconds, seconds, result


def main() -> None:
    parser = figures_parser(__doc__)
    parser.add_argument("--size", type=int, default=SIZE, help="cells a side (default 1000)")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="worker processes of each LocalCluster run, comma-separated (default 1,2)",
    )
    args = parser.parse_args()
    processes = [int(n) for n in args.processes.split(",")]
    console = Console()
    grid, times, rates, raster, weather = city_inputs(args.size)
    plume = AirParameters().plume
    neutral = np.full(len(times), "D")  # increment_graph's default stability

    def graph() -> object:
        return increment_graph(rates, weather, raster, grid, plume, stability=neutral)

    # The baseline: the same FFT code over all the hours in this thread, no Dask at all.
    before = peak_rss_mib()
    plain_seconds, plain = timed(
        lambda: increment_block(
            rates,
            weather.wind_speed,
            weather.wind_from,
            weather.mixing_height,
            neutral,
            raster=raster,
            grid=grid,
            plume=plume,
        )
    )
    peak = peak_rss_mib()
    assert plain.shape == (len(times), len(POLLUTANTS), args.size, args.size)
    assert np.isfinite(plain).all() and plain.max() > 0

    runs = {}  # name -> (start-up seconds, seconds)
    threads_seconds, threads = timed(lambda: compute(graph()))
    np.testing.assert_allclose(threads, plain, rtol=1e-6)
    del threads
    runs["Dask threads (default)"] = (0.0, threads_seconds)
    for workers in processes:
        start, seconds, clustered = cluster_run(workers, lambda address: compute(graph(), address))
        np.testing.assert_allclose(clustered, plain, rtol=1e-6)
        del clustered
        runs[f"Dask LocalCluster, {workers} process{'es' if workers > 1 else ''}"] = (
            start,
            seconds,
        )

    # The same kernels applied by a direct sum: one field timed on a small grid, scaled by
    # the cells of the full grid, and by every pollutant and hour.
    half = min(int(np.ceil(plume.max_distance / CELL)), args.size)
    kernel = plume_kernel(
        CELL, weather.wind_speed[8], weather.wind_from[8], weather.mixing_height[8], plume, half
    )
    per_field = direct_seconds_per_field(kernel, np.random.default_rng(1))
    direct_seconds = per_field * (args.size / DIRECT_SIZE) ** 2 * len(POLLUTANTS) * len(times)
    cell_hours = args.size**2 * len(times)

    table = Table(
        title=f"Traffic air quality: {args.size} x {args.size} cells of {CELL:g} m, "
        f"{len(times)} hours, {len(POLLUTANTS)} pollutants, kernel {kernel.shape[0]}²"
    )
    for column in ("same FFT code", "seconds", "cells x hours / s", "vs no Dask", "start-up s"):
        table.add_column(column, justify="right")
    table.add_row(
        "no Dask, one thread (baseline)",
        f"{plain_seconds:.2f}",
        f"{cell_hours / plain_seconds:,.0f}",
        "1",
        f"peak {peak:,.0f} MiB (+{peak - before:,.0f})",
    )
    for name, (start, seconds) in runs.items():
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{cell_hours / seconds:,.0f}",
            f"{plain_seconds / seconds:.2f}x",
            f"{start:.1f}" if start else "",
        )
    table.add_row(
        f"direct sum, not FFT (scaled from {DIRECT_SIZE}²)",
        f"{direct_seconds:,.0f}",
        f"{cell_hours / direct_seconds:,.0f}",
        f"{plain_seconds / direct_seconds:.5f}x",
        "",
    )
    console.print(table)
    console.print(
        "Speed-ups over the same FFT code without Dask, in this run: "
        + "; ".join(f"{name} {plain_seconds / seconds:.2f}x" for name, (_, seconds) in runs.items())
        + ". Start-up (cluster and workers importing the model) is paid once by a cluster that "
        "stays up, and is not in the seconds."
    )
    figures = {
        "size": args.size,
        "hours": len(times),
        "no_dask_seconds": plain_seconds,
        "dask_threads_seconds": threads_seconds,
        "threads_over_no_dask": plain_seconds / threads_seconds,
        "direct_sum_seconds_scaled": direct_seconds,
        "peak_mib": peak,
    }
    for workers, (start, seconds) in zip(processes, list(runs.values())[1:], strict=True):
        figures[f"local_cluster_{workers}_seconds"] = seconds
        figures[f"local_cluster_{workers}_start_seconds"] = start
        figures[f"local_cluster_{workers}_over_no_dask"] = plain_seconds / seconds
    print_figures({"simulate": figures}, args.json)


if __name__ == "__main__":
    main()
