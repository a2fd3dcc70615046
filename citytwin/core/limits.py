"""The ranges the store can hold, checked at the edge so that no value overflows below it."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from citytwin.errors import InvalidParameter

INT16_MAX = 2**15 - 1  # variables.id is a smallint
INT32_MAX = 2**31 - 1  # sensors.id, variables, run and event ids fit a PostgreSQL integer
INT64_MAX = 2**63 - 1  # offsets, dead-letter and event ids: a PostgreSQL bigint
# A day of slack either side keeps every shift by a time zone or a bucket inside datetime's range.
TIME_MIN = datetime(1, 1, 2, tzinfo=UTC)
TIME_MAX = datetime(9999, 12, 30, tzinfo=UTC)
LONGEST_INTERVAL = timedelta(days=3660)  # ten years: the longest bucket or window asked for
SCENARIO_DAYS = 31  # a month of hourly steps: the longest scenario baseline unless set


def check_int(value: int, parameter: str, high: int = INT64_MAX, low: int = 0) -> int:
    """`value` if within low..high, else `InvalidParameter` naming `parameter`."""
    if not low <= value <= high:
        raise InvalidParameter(parameter, f"{value} is outside {low}..{high}")
    return value


def check_time(value: datetime, parameter: str) -> datetime:
    """`value` (zoned) if a query may use it, else `InvalidParameter` naming `parameter`."""
    if not TIME_MIN <= value <= TIME_MAX:
        raise InvalidParameter(
            parameter, f"must be between {TIME_MIN.date()} and {TIME_MAX.date()}"
        )
    return value


@dataclass(frozen=True)
class ReadLimits:
    """How much of one source is read before it is refused, so that memory stays bounded
    whatever is sent (`settings.ingest` holds the configured values)."""

    max_field_bytes: int = 1 << 20  # no reading needs a longer CSV field or NDJSON line
    geojson_max_bytes: int = 32 << 20  # a GeoJSON document is parsed whole


def size_text(count: int) -> str:
    """A byte count as people read a limit: whole MiB where it is one, else bytes."""
    return (
        f"{count >> 20} MiB" if count >= 1 << 20 and count % (1 << 20) == 0 else f"{count:,} bytes"
    )
