"""Jobs a long-running process keeps going beside its main work (rollup compaction, retention)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine


@contextlib.asynccontextmanager
async def running_while(job: Coroutine[object, object, None] | None) -> AsyncIterator[None]:
    """Run `job` as a task while the block runs and cancel it when the block ends (no job:
    nothing runs)."""
    task = None if job is None else asyncio.create_task(job)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
