"""Traffic air-quality benchmark: 24 hours on a 1000 x 1000 grid (FFT) against a direct
convolution of the same kernels, timed on a smaller grid and scaled, in one process."""

import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import figures_parser, print_figures
from distributed import LocalCluster
from rich.console import Console
from rich.table import Table
from scipy.signal import convolve

from citytwin.cli.demo import demo_sources
from citytwin.core.grid import Grid
from citytwin.ingest.city.build import build_city
from citytwin.sim.air_quality import AirParameters, TrafficMeasures, increment_graph, road_rates
from citytwin.sim.dispersion import plume_kernel
from citytwin.sim.emissions import POLLUTANTS, road_raster
from citytwin.sim.meteorology import city_climatology, climatology_weather
from citytwin.sim.nowcast import time_steps
from citytwin.sim.scheduler import compute
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


def main() -> None:
    parser = figures_parser(__doc__)
    parser.add_argument("--size", type=int, default=SIZE, help="cells a side (default 1000)")
    args = parser.parse_args()
    console = Console()
    grid, times, rates, raster, weather = city_inputs(args.size)
    parameters = AirParameters()
    before = peak_rss_mib()
    started = time.perf_counter()
    increment = compute(increment_graph(rates, weather, raster, grid, parameters.plume))
    fft_seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    assert increment.shape == (len(times), len(POLLUTANTS), args.size, args.size)
    assert np.isfinite(increment).all() and increment.max() > 0

    # The same FFT code without Dask's parallelism (one thread), then on a multi-process
    # LocalCluster with one worker process per core, as a cluster past one machine would run it.
    started = time.perf_counter()
    serial = increment_graph(rates, weather, raster, grid, parameters.plume).compute(
        scheduler="synchronous"
    )
    serial_seconds = time.perf_counter() - started
    assert np.array_equal(serial, increment)
    del serial
    workers = os.cpu_count() or 1
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster:
        started = time.perf_counter()
        clustered = compute(
            increment_graph(rates, weather, raster, grid, parameters.plume),
            cluster.scheduler_address,
        )
        cluster_seconds = time.perf_counter() - started
    assert np.array_equal(clustered, increment)
    del clustered

    # The same kernels applied by a direct sum: one field timed on a small grid, scaled by
    # the cells of the full grid, and by every pollutant and hour.
    half = min(int(np.ceil(parameters.plume.max_distance / CELL)), args.size)
    kernel = plume_kernel(
        CELL,
        weather.wind_speed[8],
        weather.wind_from[8],
        weather.mixing_height[8],
        parameters.plume,
        half,
    )
    per_field = direct_seconds_per_field(kernel, np.random.default_rng(1))
    direct_seconds = per_field * (args.size / DIRECT_SIZE) ** 2 * len(POLLUTANTS) * len(times)
    cell_hours = args.size**2 * len(times)

    table = Table(
        title=f"Traffic air quality: {args.size} x {args.size} cells of {CELL:g} m, "
        f"{len(times)} hours, {len(POLLUTANTS)} pollutants, kernel {kernel.shape[0]}²"
    )
    for column in ("run", "seconds", "cells x hours / s", "peak memory"):
        table.add_column(column, justify="right")
    table.add_row(
        "ours (FFT, Dask threads)",
        f"{fft_seconds:.2f}",
        f"{cell_hours / fft_seconds:,.0f}",
        f"{peak:,.0f} MiB (+{peak - before:,.0f})",
    )
    table.add_row(
        "same FFT, no Dask (one thread)",
        f"{serial_seconds:.2f}",
        f"{cell_hours / serial_seconds:,.0f}",
        "",
    )
    table.add_row(
        f"same FFT, Dask LocalCluster ({workers} processes)",
        f"{cluster_seconds:.2f}",
        f"{cell_hours / cluster_seconds:,.0f}",
        "",
    )
    table.add_row(
        f"direct sum (scaled from {DIRECT_SIZE}²)",
        f"{direct_seconds:,.0f}",
        f"{cell_hours / direct_seconds:,.0f}",
        "",
    )
    console.print(table)
    console.print(
        f"Dask threads over one thread: {serial_seconds / fft_seconds:.2f}x; LocalCluster over "
        f"one thread: {serial_seconds / cluster_seconds:.2f}x; direct sum over ours: "
        f"{direct_seconds / fft_seconds:,.0f}x; under 20 s: "
        f"{'met' if fft_seconds < 20 else 'NOT met'}"
    )
    print_figures(
        {
            "simulate": {
                "size": args.size,
                "dask_threads_seconds": fft_seconds,
                "one_thread_seconds": serial_seconds,
                "local_cluster_seconds": cluster_seconds,
                "local_cluster_workers": workers,
                "threads_over_one_thread": serial_seconds / fft_seconds,
                "cluster_over_one_thread": serial_seconds / cluster_seconds,
                "direct_sum_seconds_scaled": direct_seconds,
                "peak_mib": peak,
            }
        },
        args.json,
    )


if __name__ == "__main__":
    main()
