"""The listener's batches in flight: acknowledging or releasing them, and when to take the next.

A batch is mapped (in a worker thread) while the one before it is stored; it is taken as late as
still lets its mapping end when that store ends, so that it holds all that came meanwhile.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from citytwin.stream.messages import MappedBatch
from citytwin.stream.source import Message, Source

Ack = Callable[[Source, list[Message]], None]
Mapped = tuple[list[Message], MappedBatch]


@dataclass
class Timing:
    """How long the last batch took to map and to store."""

    mapping: float = 0.0
    storing: float = 0.0

    def take_next(self, store_began: float) -> float:
        """When to take the next batch: so that its mapping ends as the store begun ends."""
        return store_began + max(0.0, self.storing - self.mapping)


def by_source(batch: list[Message]) -> list[tuple[Source, list[Message]]]:
    """The batch's messages grouped by the source object that delivered them (in order)."""
    groups: dict[int, tuple[Source, list[Message]]] = {}
    for message in batch:
        source = message.origin
        groups.setdefault(id(source), (source, []))[1].append(message)
    return list(groups.values())


def settle(batch: list[Message], stored: bool, ack: Ack) -> None:
    """Acknowledge a stored batch to its sources; release its messages either way."""
    for source, messages in by_source(batch):
        if stored:
            ack(source, messages)
        source.release(messages)


async def dropped(task: "asyncio.Task[tuple[Mapped | None, float]]") -> None:
    """Cancel the taking and mapping of the next batch: its messages are released, never
    acknowledged (the broker sends them again)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        mapped, _ = await task
        if mapped is not None:
            settle(mapped[0], False, lambda source, messages: None)
