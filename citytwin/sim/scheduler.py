"""Where Dask graphs run: local threads by default, a `dask.distributed` scheduler at an
address, or a LocalCluster of worker processes on this machine started for the work."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dask.array as da
import numpy as np
from dask.callbacks import Callback

from citytwin.errors import SchedulerUnavailable
from citytwin.settings import SimulationSettings

Progress = Callable[[int, int], None]


class _TaskProgress(Callback):
    """Reports (finished tasks, all tasks) of a local computation."""

    def __init__(self, on_progress: Progress) -> None:
        super().__init__()
        self.on_progress = on_progress
        self.total = self.done = 0

    def _start_state(self, dsk: object, state: dict) -> None:
        self.total = sum(len(state[key]) for key in ("ready", "waiting", "running", "finished"))

    def _posttask(self, *args: object) -> None:
        self.done += 1
        self.on_progress(self.done, self.total)


@contextmanager
def simulation_scheduler(settings: SimulationSettings) -> Iterator[str | None]:
    """The scheduler address models run on while the block lasts: `dask_scheduler` when set;
    else, with `dask_workers` set, a LocalCluster of that many worker processes (one thread
    each: the FFTs then run outside each other's GIL) started here and closed on leaving;
    else None (local threads)."""
    if settings.dask_scheduler is not None or settings.dask_workers is None:
        yield settings.dask_scheduler
        return
    from distributed import LocalCluster  # only needed for a cluster

    with LocalCluster(
        n_workers=settings.dask_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def compute(
    array: da.Array, scheduler: str | None = None, on_progress: Progress | None = None
) -> np.ndarray:
    """`array` computed on local threads (`scheduler` None) or on the `dask.distributed`
    scheduler at that address, block by block; `on_progress(done, total)` as work finishes.
    SchedulerUnavailable when no scheduler answers there (within Dask's connect timeout,
    `distributed.comm.timeouts.connect`)."""
    if scheduler is None:
        if on_progress is None:
            return array.compute(scheduler="threads")
        with _TaskProgress(on_progress):
            return array.compute(scheduler="threads")
    from distributed import Client

    blocks = array.to_delayed()
    results = np.empty(blocks.size, dtype=object)
    try:
        client = Client(scheduler, set_as_default=False)
    except (OSError, ValueError) as exc:  # unreachable, or not an address at all
        raise SchedulerUnavailable(
            f"no Dask scheduler at {scheduler!r} (CITYTWIN_DASK_SCHEDULER): {exc}"
        ) from None
    with client:
        futures = client.compute(list(blocks.ravel()))
        # All blocks run at once on the cluster; they are collected (and counted) in order.
        for index, future in enumerate(futures):
            results[index] = future.result()
            if on_progress is not None:
                on_progress(index + 1, len(futures))
    return np.block(results.reshape(blocks.shape).tolist())
