"""The JSON payload formats a push or a message may carry, named once: how each is told by its
content, selected by a Content-Type, split into items and mapped onto canonical rows. HTTP
pushes, stream messages and dead-letter replays all dispatch through `PAYLOAD_FORMATS`.

A new payload format is one `register(PayloadFormat(...))` (see docs/architecture.md).
"""

from collections.abc import Callable
from dataclasses import dataclass

from citytwin.errors import MalformedInput
from citytwin.feeds import FeedRegistry
from citytwin.ingest import payloads
from citytwin.ingest.payloads import MappedRows

CANONICAL = "canonical"  # our own JSON readings, as MQTT messages carry them
NGSI_LD = "ngsi-ld"
STA_OBSERVATION = "sta-observation"
STA_DATA_ARRAY = "sta-dataarray"

# (feeds, parsed document, its items, the feed its source names) -> rows per feed
Mapper = Callable[[FeedRegistry, object, list, str | None], dict[str, MappedRows]]


@dataclass(frozen=True)
class PayloadFormat:
    """A payload format: `name` (its `format=` value and dead letters' format), the `media_type`
    selecting it on a feed's push (None: by name only), `looks_like` on a parsed item, `items`
    of a parsed document, the format its items are dead-lettered as, and `map`."""

    name: str
    media_type: str | None
    looks_like: Callable[[dict], bool]
    items: Callable[[object], list]
    item_format: str
    map: Mapper


def one_or_many(document: object) -> list:
    """A document's items: the members of a list, or the document itself."""
    return document if isinstance(document, list) else [document]


PAYLOAD_FORMATS: dict[str, PayloadFormat] = {}


def register(payload_format: PayloadFormat) -> PayloadFormat:
    """Add a payload format; formats are detected in registration order."""
    if payload_format.name in PAYLOAD_FORMATS:
        raise ValueError(f"payload format {payload_format.name!r} is registered already")
    PAYLOAD_FORMATS[payload_format.name] = payload_format
    return payload_format


register(
    PayloadFormat(
        name=STA_DATA_ARRAY,
        media_type=None,
        looks_like=lambda item: "dataArray" in item and "components" in item,
        items=lambda document: payloads.data_array_observations(one_or_many(document)),
        item_format=STA_OBSERVATION,
        map=lambda feeds, document, items, feed: payloads.map_observations(feeds, items),
    )
)
register(
    PayloadFormat(
        name=STA_OBSERVATION,
        media_type=None,
        looks_like=lambda item: "Datastream" in item or {"result", "phenomenonTime"} <= set(item),
        items=one_or_many,
        item_format=STA_OBSERVATION,
        map=lambda feeds, document, items, feed: payloads.map_observations(feeds, items),
    )
)
register(
    PayloadFormat(
        name=CANONICAL,
        media_type="application/json",
        looks_like=lambda item: "sensor_id" in item,
        items=one_or_many,
        item_format=CANONICAL,
        map=lambda feeds, document, items, feed: payloads.map_canonical(document, feed),
    )
)
register(
    PayloadFormat(
        name=NGSI_LD,
        media_type="application/ld+json",
        looks_like=lambda item: "id" in item and "type" in item,
        items=one_or_many,
        item_format=NGSI_LD,
        map=lambda feeds, document, items, feed: payloads.map_ngsi_batch(document),
    )
)


def payload_format(name: str) -> PayloadFormat:
    """The registered format `name`; MalformedInput if there is none."""
    try:
        return PAYLOAD_FORMATS[name]
    except KeyError:
        raise MalformedInput(f"unknown payload format {name!r}") from None


def by_media_type(media_type: str) -> PayloadFormat | None:
    """The format a Content-Type selects, if any."""
    return next((f for f in PAYLOAD_FORMATS.values() if f.media_type == media_type), None)


def detect(document: object) -> PayloadFormat:
    """The format of a parsed payload, by its first item's members; MalformedInput if none."""
    first = document[0] if isinstance(document, list) and document else document
    if isinstance(first, dict):
        for candidate in PAYLOAD_FORMATS.values():
            if candidate.looks_like(first):
                return candidate
    raise MalformedInput(
        "not a canonical reading (sensor_id, time, variable, value), an NGSI-LD entity "
        "(id, type) or a SensorThings Observation (Datastream, result)"
    )


def map_payload(
    document: object, fmt: PayloadFormat, feeds: FeedRegistry, feed: str | None = None
) -> tuple[list, dict[str, MappedRows]]:
    """(items, mapped rows per feed numbered from 1) of a parsed document in format `fmt`
    (canonical readings go to `feed`); MalformedInput if it cannot be read."""
    items = fmt.items(document)
    return items, fmt.map(feeds, document, items, feed)
