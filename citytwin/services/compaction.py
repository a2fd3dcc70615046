"""Compacting rollup deltas in the background of a long-running process (the API server and
its listeners), so that loads only append and readers find few deltas to add."""

import asyncio
import contextlib
import logging

from citytwin.db.compaction import compact_rollups
from citytwin.db.pool import Pool
from citytwin.services.background import running_while

logger = logging.getLogger("citytwin.compaction")


async def compaction_loop(pool: Pool, bucket_seconds: int, every_seconds: float) -> None:
    """Fold the deltas every `every_seconds`; a failed round is logged and retried."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            async with pool.acquire() as conn:
                folded = await compact_rollups(conn, bucket_seconds)
            if folded:
                logger.debug("compaction: %d delta rows folded into day rows", folded)
        except Exception:
            logger.exception("compaction failed; next try in %s s", every_seconds)


def scheduled_compaction(
    pool: Pool, bucket_seconds: int, every_seconds: float
) -> contextlib.AbstractAsyncContextManager[None]:
    """Run `compaction_loop` while the block runs (not at all when `every_seconds` is 0)."""
    job = compaction_loop(pool, bucket_seconds, every_seconds) if every_seconds > 0 else None
    return running_while(job)
