"""Fan-out of twin events to stream subscribers, and Server-Sent Events framing. No I/O.

The hub only knows the newest event id announced; each subscriber reads the events after its
own last id from the store, so a slow or reconnecting subscriber loses nothing that is held.
Subscribers asking the same thing of the same event share one computation.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

import orjson

SHARED_RESULTS = 256  # (event, question) answers kept for subscribers that ask the same


class EventHub:
    """The newest announced event id, and a wake-up for everyone waiting beyond an id."""

    def __init__(self) -> None:
        self.newest = 0
        self._announced = asyncio.Event()
        self._shared: OrderedDict[Hashable, asyncio.Task] = OrderedDict()

    def announce(self, event_id: int) -> None:
        """Event `event_id` was committed: wake every waiting subscriber."""
        self.newest = max(self.newest, event_id)
        self._announced.set()
        self._announced = asyncio.Event()

    async def wait_beyond(self, seen: int, seconds: float) -> bool:
        """Wait until an event newer than `seen` is announced; False after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                while self.newest <= seen:
                    await self._announced.wait()
        except TimeoutError:
            return False
        return True

    async def shared(self, key: Hashable, compute: Callable[[], Awaitable[object]]) -> object:
        """`compute()` once per `key` among the recent ones; every caller gets its result."""
        task = self._shared.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.ensure_future(compute())
            self._shared[key] = task
            while len(self._shared) > SHARED_RESULTS:
                self._shared.popitem(last=False)
        return await asyncio.shield(task)


def sse_message(data: object, event: str, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: `data` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return f"{head}event: {event}\ndata: ".encode() + body + b"\n\n"


KEEP_ALIVE = b": keep-alive\n\n"  # a comment line: proxies keep the connection open
