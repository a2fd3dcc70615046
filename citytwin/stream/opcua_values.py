"""OPC UA data values as canonical readings, or the reason they cannot be one. Pure."""

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from citytwin.feeds.opcua import NodeMapping

# Variant types that carry a number (a Boolean or a String in a mapped node is a type change).
NUMERIC = frozenset(
    {"SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double"}
)


@dataclass(frozen=True)
class Value:
    """What a notification or a history record says of one node."""

    value: object
    variant_type: str  # e.g. "Double"
    status: str  # e.g. "Good", "BadSensorFailure"
    good: bool
    source_time: datetime | None
    server_time: datetime | None


def when(value: Value, received: datetime) -> datetime:
    """The reading's time: the source timestamp, else the server's, else when it arrived."""
    return value.source_time or value.server_time or received


def as_reading(mapping: NodeMapping, value: Value, received: datetime) -> tuple[bytes, str | None]:
    """(canonical reading JSON, None), or (what arrived, the reason it is no reading)."""
    at = when(value, received).astimezone(UTC)
    document = {
        "sensor_id": mapping.sensor_id,
        "lon": mapping.lon,
        "lat": mapping.lat,
        "time": at.isoformat().replace("+00:00", "Z"),
        "variable": mapping.variable,
        "value": value.value,
        "unit": mapping.unit,
    }
    if not value.good:
        refused = f"status {value.status} from node {mapping.address}"
    elif value.variant_type not in NUMERIC:
        refused = f"node {mapping.address} changed type: {value.variant_type}, not a number"
    else:
        return orjson.dumps({k: v for k, v in document.items() if v is not None}), None
    document["value"] = repr(value.value)
    return orjson.dumps(document | {"status": value.status}), refused
