"""Aggregates of sensor series (a Datastream, an NGSI-LD entity attribute) per period:
what is asked, checked without I/O. The store answers whole hours from the sensor hours and
anything else from the readings (`db/queries/series`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from citytwin.errors import InvalidParameter

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SeriesAggregates:
    """count, sum, avg, min, max per `period` over [start, end) of each (sensor, variable)."""

    series: tuple[tuple[int, int], ...]
    start: datetime
    end: datetime
    period: timedelta

    @property
    def whole_hours(self) -> bool:
        """Whether periods and range are made of whole UTC hours (the sensor hours answer)."""
        hour = HOUR.total_seconds()
        on_hours = all(moment.timestamp() % hour == 0 for moment in (self.start, self.end))
        return on_hours and not self.period % HOUR


def parse_duration(text: str, parameter: str) -> timedelta:
    """A positive ISO 8601 duration (`PT1H`, `P1D`, `PT15M`)."""
    try:
        duration = pd.Timedelta(text).to_pytimedelta()
    except ValueError:
        raise InvalidParameter(parameter, f"{text!r} is not an ISO 8601 duration") from None
    if duration <= timedelta(0):
        raise InvalidParameter(parameter, f"{text!r}: a positive duration")
    return duration


def series_aggregates(
    series: list[tuple[int, int]],
    start: datetime | None,
    end: datetime | None,
    period: timedelta,
    parameter: str,
    max_periods: int,
) -> SeriesAggregates:
    """The question; 400 when its time range is open or it asks for more than `max_periods`
    periods (series × periods)."""
    if start is None or end is None or start >= end:
        raise InvalidParameter(parameter, "an aggregate needs a time range with start < end")
    periods = (end - start) / period * max(len(series), 1)
    if periods > max_periods:
        raise InvalidParameter(parameter, f"{periods:.0f} periods asked; at most {max_periods}")
    return SeriesAggregates(tuple(series), start, end, period)
