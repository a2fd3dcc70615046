"""The service applies the feeds' retention policies on a schedule, only when the operator asks
for one (`CITYTWIN_RETENTION_HOURS` > 0); `citytwin retention apply` does the same on demand.

Nothing goes unannounced: at start-up the schedule logs when its first run comes and what that
run would drop, and every run logs each partition (with its readings) and rollup rows it dropped.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from citytwin.db.pool import Pool
from citytwin.db.retention import apply_retention
from citytwin.feeds import FeedRegistry
from citytwin.services.background import running_while

logger = logging.getLogger("citytwin.retention")
FIRST_RUN_SECONDS = 600.0  # after start-up: time to read the announcement and stop the service


async def _log_run(pool: Pool, feeds: FeedRegistry, dry_run: bool) -> None:
    async with pool.acquire() as conn:
        run = await apply_retention(conn, feeds, datetime.now(UTC), dry_run=dry_run)
    # A run that drops something is logged as a warning, so it shows under any log level.
    level = logging.WARNING if run.drops_anything else logging.INFO
    for line in run.lines():
        logger.log(level, "retention: %s", line)


async def retention_loop(pool: Pool, feeds: FeedRegistry, every_hours: float) -> None:
    """Announce the first run and what it would drop, apply the policies FIRST_RUN_SECONDS after
    start and then every `every_hours`; a failed run is logged and tried again at the next turn
    (the service goes on)."""
    first = datetime.now(UTC) + timedelta(seconds=FIRST_RUN_SECONDS)
    logger.warning(
        "retention: the feeds' policies are applied every %s h (CITYTWIN_RETENTION_HOURS), "
        "first at %s; as things stand it would:",
        every_hours,
        f"{first:%Y-%m-%dT%H:%M:%SZ}",
    )
    try:
        await _log_run(pool, feeds, dry_run=True)
    except Exception:
        logger.exception("retention: could not plan the first run")
    await asyncio.sleep(FIRST_RUN_SECONDS)
    while True:
        try:
            await _log_run(pool, feeds, dry_run=False)
        except Exception:
            logger.exception("retention run failed; next try in %s h", every_hours)
        await asyncio.sleep(every_hours * 3600)


def scheduled_retention(
    pool: Pool, feeds: FeedRegistry, every_hours: float
) -> contextlib.AbstractAsyncContextManager[None]:
    """Run `retention_loop` while the block runs (not at all when `every_hours` is 0)."""
    return running_while(retention_loop(pool, feeds, every_hours) if every_hours > 0 else None)
