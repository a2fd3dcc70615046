"""Series aggregate questions: which are whole hours (answered from the sensor hours)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from citytwin.errors import InvalidParameter
from citytwin.query.series import parse_duration, series_aggregates
from citytwin.settings import Settings

SIX = datetime(2026, 11, 2, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "period", "whole"),
    [
        (SIX, SIX + timedelta(hours=6), "PT1H", True),
        (SIX, SIX + timedelta(days=7), "P1D", True),
        (SIX, SIX + timedelta(hours=6), "PT30M", False),
        (SIX, SIX + timedelta(hours=6), "PT90M", False),
        (SIX + timedelta(minutes=30), SIX + timedelta(hours=6), "PT1H", False),
        (SIX, SIX + timedelta(hours=5, minutes=59), "PT1H", False),
        # 12:00 at +05:30 is 06:30 UTC: not on a UTC hour
        (
            datetime(2026, 11, 2, 12, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            SIX + timedelta(hours=6),
            "PT1H",
            False,
        ),
    ],
)
def test_whole_hours(start, end, period, whole):
    question = series_aggregates([(1, 2)], start, end, parse_duration(period, "p"), "p", 1000)
    assert question.whole_hours is whole


@pytest.mark.parametrize(
    ("text", "message"), [("PT0S", "a positive duration"), ("soon", "not an ISO 8601 duration")]
)
def test_bad_durations_name_the_parameter(text, message):
    with pytest.raises(InvalidParameter, match=message) as error:
        parse_duration(text, "aggrPeriodDuration")
    assert error.value.parameter == "aggrPeriodDuration"


def test_an_open_range_or_too_many_periods_is_refused():
    with pytest.raises(InvalidParameter, match="start < end"):
        series_aggregates([(1, 2)], SIX, None, timedelta(hours=1), "timeAt", 1000)
    # 100 series × 1,440 hours: over the setting's default of 100,000, but within a raised one
    sixty_days = (SIX, SIX + timedelta(days=60), timedelta(hours=1), "t")
    with pytest.raises(InvalidParameter, match="144000 periods asked; at most 100000"):
        series_aggregates([(1, 2)] * 100, *sixty_days, Settings().api.series_max_periods)
    assert series_aggregates([(1, 2)] * 100, *sixty_days, 144_000).start == SIX
