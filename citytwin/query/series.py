"""Aggregates of sensor series (a Datastream, an NGSI-LD entity attribute) per period:
what is asked, checked without I/O. The store answers from the rollups (`db/queries/series`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from citytwin.errors import InvalidParameter
from citytwin.query.params import TimeRange, widen_to_buckets

MAX_PERIODS = 100_000  # series × periods in one answer


@dataclass(frozen=True)
class SeriesAggregates:
    """count, sum, avg, min, max per `period` over [start, end) of each (sensor, variable)."""

    series: tuple[tuple[int, int], ...]
    start: datetime
    end: datetime
    period: timedelta


def parse_duration(text: str, parameter: str, base_seconds: int) -> timedelta:
    """An ISO 8601 duration (`PT1H`, `P1D`) that is a whole multiple of the rollup bucket."""
    try:
        duration = pd.Timedelta(text).to_pytimedelta()
    except ValueError:
        raise InvalidParameter(parameter, f"{text!r} is not an ISO 8601 duration") from None
    if duration <= timedelta(0) or duration.total_seconds() % base_seconds:
        raise InvalidParameter(
            parameter, f"{text!r}: a whole multiple of the {base_seconds} s rollup bucket"
        )
    return duration


def series_aggregates(
    series: list[tuple[int, int]],
    start: datetime | None,
    end: datetime | None,
    period: timedelta,
    base_seconds: int,
    parameter: str,
) -> SeriesAggregates:
    """The question, its time range widened to whole rollup buckets; 400 when it is open or
    asks for more than MAX_PERIODS periods."""
    if start is None or end is None or start >= end:
        raise InvalidParameter(parameter, "an aggregate needs a time range with start < end")
    widened = widen_to_buckets(TimeRange(start, end), base_seconds)
    periods = (widened.end - widened.start) / period * max(len(series), 1)
    if periods > MAX_PERIODS:
        raise InvalidParameter(parameter, f"{periods:.0f} periods asked; at most {MAX_PERIODS}")
    return SeriesAggregates(tuple(series), widened.start, widened.end, period)
