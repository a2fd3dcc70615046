"""Sources: what delivers live readings (MQTT, HTTP push, OPC UA), behind one interface.

A source turns its transport into `Message`s handed to a `Sink` (the listener). The listener does
what every source shares: micro-batching, payload detection, storing with back-off while the
database is away, dead letters, and only then `ack` (what acknowledging means is the source's:
an MQTT PUBACK, an HTTP answer, an OPC UA source's committed watermark). Each kind is named once,
by `register`; `configured_sources` builds the ones the settings and feed definitions ask for.
"""

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from citytwin.errors import InvalidParameter
from citytwin.feeds import FeedRegistry
from citytwin.settings import Settings


@dataclass(frozen=True)
class Message:
    """One payload from a source: where from, its bytes, its feed if the source knows it.

    `token` is the source's own handle (to acknowledge it); `refused` is a reason the source
    already knows the payload cannot be stored (e.g. a bad OPC UA status): it is dead-lettered.
    """

    origin: "Source"
    topic: str
    payload: bytes
    feed: str | None = None
    token: object = None
    refused: str | None = None

    @property
    def kind(self) -> str:
        """The kind of source it came from (a dead letter's format when it cannot be read)."""
        return self.origin.kind


@dataclass(frozen=True)
class Fault:
    """Something a source met that an operator should see (a refused node, a lost link)."""

    kind: str
    detail: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Health:
    """A source's state as the operator sees it; `faults` keeps the most recent ones."""

    state: str = "starting"  # starting, connected, reconnecting, failed, stopped
    detail: str = ""
    received: int = 0
    acked: int = 0
    faults: list[Fault] = field(default_factory=list)

    KEPT: ClassVar[int] = 50

    def fault(self, kind: str, detail: str) -> None:
        """Record a fault, keeping the newest `KEPT`."""
        self.faults.append(Fault(kind, detail))
        del self.faults[: -self.KEPT]

    def as_dict(self) -> dict:
        """The health as JSON-ready values."""
        return {
            "state": self.state,
            "detail": self.detail,
            "received": self.received,
            "acked": self.acked,
            "faults": [
                {"kind": f.kind, "detail": f.detail, "at": f.at.isoformat()} for f in self.faults
            ],
        }


class Sink(Protocol):
    """What a source delivers to (the listener)."""

    def deliver(self, message: Message) -> None:
        """Take one message (called on the listener's event loop)."""

    def withdraw(self, unwanted: Callable[[Message], bool]) -> list[Message]:
        """Drop held messages the source will send again; the dropped ones."""

    def ready_source(self, source: "Source") -> None:
        """Say that `source` is connected and delivering."""


class Source(abc.ABC):
    """One running source of a kind; the listener calls these from its event loop."""

    kind: ClassVar[str]
    delivers: ClassVar[str]  # what its payloads are, in a few words (for operators and docs)

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = Health()

    @abc.abstractmethod
    async def start(self, sink: Sink) -> None:
        """Connect in the background (retrying with back-off) and deliver to `sink`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect; messages not acknowledged stay with the other side where it keeps them."""

    def stop_reading(self) -> None:  # noqa: B027 - most sources have nothing to hold back
        """Take no more messages (called when the listener starts to stop)."""

    def ack(self, messages: Sequence[Message]) -> int:
        """Acknowledge stored messages (after their commit); how many were."""
        self.status.acked += len(messages)
        return len(messages)

    def release(self, messages: Sequence[Message]) -> None:  # noqa: B027 - see stop_reading
        """Make room again: `messages` were acknowledged, or are left to the other side."""

    @property
    def held(self) -> int:
        """Messages received and not yet released (bounded by the source where it can be)."""
        return 0

    def health(self) -> Health:
        """The source's health now."""
        return self.status


# kind → factory building that kind's configured sources from the settings and feed definitions.
Factory = Callable[[Settings, FeedRegistry], list[Source]]
SOURCE_KINDS: dict[str, Factory] = {}


def register(kind: str) -> Callable[[Factory], Factory]:
    """Name a source kind once: `@register("opcua")` on its factory."""

    def named(factory: Factory) -> Factory:
        SOURCE_KINDS[kind] = factory
        return factory

    return named


def configured_sources(
    settings: Settings, feeds: FeedRegistry, kinds: Iterable[str] | None = None
) -> list[Source]:
    """The sources of `kinds` (default: `listen_sources` of the settings) that are configured."""
    from citytwin.stream import kinds as _registered  # noqa: F401 - registers the built-in kinds

    wanted = list(settings.streams.listen_sources if kinds is None else kinds)
    unknown = [kind for kind in wanted if kind not in SOURCE_KINDS]
    if unknown:
        known = ", ".join(sorted(SOURCE_KINDS))
        raise InvalidParameter("listen_sources", f"unknown source {unknown[0]!r} (known: {known})")
    return [source for kind in wanted for source in SOURCE_KINDS[kind](settings, feeds)]
