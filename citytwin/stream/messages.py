"""Source messages as canonical rows per feed, and the dead letters of those that cannot be. Pure.

A payload's kind is told by its content, not its topic, so one topic may carry any of them:
a canonical reading (`sensor_id, lon, lat, time, variable, value, unit`; one object or a list),
an NGSI-LD entity or batch (`id` and `type`), a SensorThings Observation or list of them
(`Datastream`, `result`), or a CreateObservations dataArray (`components`, `dataArray`). The feed
of NGSI-LD and SensorThings items comes from their content (entity type, ObservedProperty), as on
the HTTP push endpoints; canonical readings take the feed their source names (an MQTT topic's
`{feed}`, an OPC UA node's feed).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from citytwin.errors import MalformedInput
from citytwin.feeds import FeedRegistry
from citytwin.ingest import payloads
from citytwin.ingest.payload_formats import STA_DATA_ARRAY, detect, map_payload
from citytwin.ingest.payloads import MappedRows
from citytwin.ingest.validate import Rejection
from citytwin.services.push import KEPT_BYTES
from citytwin.stream.source import Message

# (feed, format, reason, payload), as `dead_letters.record_many` stores them.
DeadLetter = tuple[str | None, str, str, bytes]


@dataclass(frozen=True)
class Item:
    """One reading-carrying item of a message: its format, topic and what a dead letter keeps
    (the bytes as sent, or the parsed member of a list, encoded only if it is dead-lettered:
    encoding every member up front cost as much as mapping them)."""

    format: str
    topic: str
    sent: bytes | None = None
    member: object = None

    @property
    def payload(self) -> bytes:
        return self.sent if self.sent is not None else orjson.dumps(self.member)


@dataclass
class MappedBatch:
    """A batch's items (item n is `items[n - 1]`), their rows per feed, and unreadable messages.

    Rows and rejections of the feed `""` belong to no feed: they are rejections only.
    """

    items: list[Item] = field(default_factory=list)
    by_feed: dict[str, MappedRows] = field(default_factory=dict)
    unreadable: list[DeadLetter] = field(default_factory=list)

    def dead_letters(self, feed: str | None, errors: dict[int, list[str]]) -> list[DeadLetter]:
        """The dead letters of failed items (item → reasons) of `feed`."""
        letters = []
        for number, reasons in errors.items():
            item = self.items[number - 1]
            reason = f"{'; '.join(reasons)} (topic {item.topic})"
            letters.append((feed or None, item.format, reason, item.payload))
        return letters


def _renumber(target: dict[str, MappedRows], mapped: dict[str, MappedRows], offset: int) -> None:
    for feed, part in mapped.items():
        into = target.setdefault(feed, MappedRows())
        if offset:
            for row in part.rows:  # rows fresh from mapping, ours to change
                row["item"] += offset
        into.rows += part.rows
        into.rejected += [Rejection(r.line + offset, r.field, r.error) for r in part.rejected]


def map_batch(
    messages: Sequence[Message],
    feeds: FeedRegistry,
    *,
    max_bytes: int,
    now: datetime,
    future: timedelta,
    city_zone: str | None = None,
) -> MappedBatch:
    """A batch of messages as rows per feed, with every failure kept.

    A message that cannot be read is dead-lettered with its source's kind as the format.
    Times without an offset are read in the feed's zone, else in `city_zone`.
    """
    batch = MappedBatch()
    for message in messages:
        topic, payload, feed = message.topic, message.payload, message.feed
        if message.refused is not None:
            reason = f"{message.refused} (topic {topic})"
            batch.unreadable.append((feed, message.kind, reason, payload))
            continue
        if len(payload) > max_bytes:
            reason = (
                f"{len(payload)} bytes is over the {max_bytes} byte limit; the first "
                f"{min(len(payload), KEPT_BYTES)} bytes are kept (topic {topic})"
            )
            batch.unreadable.append((feed, message.kind, reason, payload[:KEPT_BYTES]))
            continue
        kind = message.kind
        try:
            document = payloads.load_json(payload)
            if isinstance(document, list) and not document:
                raise MalformedInput("an empty list")
            found = detect(document)
            kind = found.name
            items, mapped = map_payload(document, found, feeds, feed)
        except MalformedInput as exc:
            batch.unreadable.append((feed, kind, f"{exc} (topic {topic})", payload))
            continue
        # A single object is its own item: keep the bytes as sent; list members are re-encoded.
        whole = isinstance(document, dict) and kind != STA_DATA_ARRAY
        _renumber(batch.by_feed, mapped, len(batch.items))
        if whole:
            batch.items.append(Item(found.item_format, topic, sent=payload))
        else:
            batch.items += [Item(found.item_format, topic, member=item) for item in items]
    for feed, mapped in batch.by_feed.items():
        if feed and mapped.rows:
            payloads.reject_future(mapped, feeds[feed].timezone or city_zone, now, future)
    return batch
