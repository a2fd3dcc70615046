"""The HTTP push source: request bodies handed to the listener, answered after their commit.

`push` delivers one body and waits until its batch is stored: concurrent pushes are micro-batched
into one ingest transaction per feed like any other source's messages, a body that cannot be read
is dead-lettered, and while the database is away the push waits (the listener retries with
back-off) instead of failing. Acknowledging is answering: `push` returns True once committed,
False if the listener stopped before it could store it (the client should send it again).
"""

import asyncio
from collections.abc import Sequence

from citytwin.feeds import FeedRegistry
from citytwin.settings import Settings
from citytwin.stream.source import Message, Sink, Source, register


class HttpPushSource(Source):
    """Bodies pushed in-process (by a route or a producer), each awaited until stored."""

    kind = "http"
    delivers = "request bodies: canonical JSON readings, NGSI-LD entities, SensorThings"

    def __init__(self, name: str = "http") -> None:
        super().__init__(name)
        self._sink: Sink | None = None

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        self.status.state = "connected"
        sink.ready_source(self)

    async def stop(self) -> None:
        self._sink = None
        self.status.state = "stopped"

    async def push(self, feed: str | None, body: bytes) -> bool:
        """Deliver one body (readings of `feed`); True once stored, False if left unstored."""
        if self._sink is None:
            return False
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.status.received += 1
        self._sink.deliver(Message(self, f"http/{feed or '-'}", body, feed, answered))
        return await answered

    def ack(self, messages: Sequence[Message]) -> int:
        for message in messages:
            if not message.token.done():
                message.token.set_result(True)
        return super().ack(messages)

    def release(self, messages: Sequence[Message]) -> None:
        for message in messages:  # not acknowledged: the listener stopped before storing it
            if not message.token.done():
                message.token.set_result(False)


@register("http")
def http_sources(settings: Settings, feeds: FeedRegistry) -> list[Source]:
    """One in-process push source."""
    return [HttpPushSource()]
