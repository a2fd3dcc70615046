"""Where Dask graphs run: local threads by default, or a `dask.distributed` scheduler."""

from collections.abc import Callable

import dask.array as da
import numpy as np
from dask.callbacks import Callback

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


def compute(
    array: da.Array, scheduler: str | None = None, on_progress: Progress | None = None
) -> np.ndarray:
    """`array` computed on local threads (`scheduler` None) or on the `dask.distributed`
    scheduler at that address, block by block; `on_progress(done, total)` as work finishes."""
    if scheduler is None:
        if on_progress is None:
            return array.compute(scheduler="threads")
        with _TaskProgress(on_progress):
            return array.compute(scheduler="threads")
    from distributed import Client  # only needed for a cluster

    blocks = array.to_delayed()
    results = np.empty(blocks.size, dtype=object)
    with Client(scheduler, set_as_default=False) as client:
        futures = client.compute(list(blocks.ravel()))
        # All blocks run at once on the cluster; they are collected (and counted) in order.
        for index, future in enumerate(futures):
            results[index] = future.result()
            if on_progress is not None:
                on_progress(index + 1, len(futures))
    return np.block(results.reshape(blocks.shape).tolist())
