"""One dedicated connection LISTENing for twin events, reconnecting when it drops."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from citytwin.db.latest import CHANNEL
from citytwin.db.pool import connect
from citytwin.errors import DatabaseUnavailable

logger = logging.getLogger("citytwin.twin")
FAILURES = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class EventListener:
    """Hands every announced event id to `on_event`; on each (re)connect also the newest id
    stored, so events committed while it was away still wake their subscribers."""

    def __init__(self, url: str, on_event: Callable[[int], None]) -> None:
        self.url = url
        self.on_event = on_event
        self.connected = False  # whether events reach `on_event` right now
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Listen from now on; returns once listening (DatabaseUnavailable if it cannot)."""
        if self._task is not None:
            return
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready))
        try:
            await asyncio.shield(ready)
        except DatabaseUnavailable:
            self._task = None
            raise

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.on_event(int(payload))

    async def _run(self, ready: asyncio.Future[None]) -> None:
        delay = 0.5
        while True:
            conn = None
            try:
                conn = await connect(self.url)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                # Heard before `connected` turns true: what was committed while away is
                # announced (and tile versions forget it) before any remembered one is trusted.
                self.on_event(await conn.fetchval("SELECT coalesce(max(id), 0) FROM twin_events"))
                self.connected = True
                if not ready.done():
                    ready.set_result(None)
                delay = 0.5
                await lost.wait()
                logger.warning("twin event listener lost its connection; reconnecting")
            except FAILURES as exc:
                if not ready.done():
                    ready.set_exception(DatabaseUnavailable(f"cannot listen for events: {exc}"))
                    return
                logger.warning("twin event listener: %s; retrying in %.1f s", exc, delay)
            finally:
                self.connected = False
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
