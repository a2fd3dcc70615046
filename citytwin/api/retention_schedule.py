"""The service applies the feeds' retention policies on a schedule (`CITYTWIN_RETENTION_HOURS`),
so no one has to remember a cron job; `citytwin retention apply` does the same on demand."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from citytwin.db.pool import Pool
from citytwin.db.retention import apply_retention
from citytwin.feeds import FeedRegistry

logger = logging.getLogger("citytwin.retention")
FIRST_RUN_SECONDS = 60.0  # after start-up, so starting the service stays quick


async def retention_loop(pool: Pool, feeds: FeedRegistry, every_hours: float) -> None:
    """Apply the policies a minute after start, then every `every_hours`; a failed run is
    logged and tried again at the next turn (the service goes on)."""
    await asyncio.sleep(FIRST_RUN_SECONDS)
    while True:
        try:
            async with pool.acquire() as conn:
                run = await apply_retention(conn, feeds, datetime.now(UTC), dry_run=False)
            dropped = ", ".join(p.name for p in run.plan.partitions) or "no partition"
            logger.info("retention: dropped %s; rollup rows deleted %s", dropped, run.rows)
        except Exception:
            logger.exception("retention run failed; next try in %s h", every_hours)
        await asyncio.sleep(every_hours * 3600)


@contextlib.asynccontextmanager
async def scheduled_retention(
    pool: Pool, feeds: FeedRegistry, every_hours: float
) -> AsyncIterator[None]:
    """Run `retention_loop` while the block runs (not at all when `every_hours` is 0)."""
    task = None
    if every_hours > 0:
        task = asyncio.create_task(retention_loop(pool, feeds, every_hours))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
