"""The retention plan on its own: which months and days go, given policies and a clock."""

from datetime import UTC, datetime, timedelta

import pytest

from citytwin.feeds import FeedRegistry, load_feeds
from citytwin.feeds.definition import Retention, parse_period
from citytwin.twin.retention import Partition, PolicyCutoffs, plan_retention, policy_warnings
from tests.conftest import ROOT

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)


def month(year: int, number: int) -> Partition:
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return Partition(f"readings_{year}_{number:02d}", start, end)


MONTHS = [month(2026, m) for m in (7, 8, 9, 10)]


def registry(**policies: Retention) -> FeedRegistry:
    """The project's feeds with the given retention policies (others: keep forever)."""
    feeds = load_feeds(ROOT / "sensors")
    return FeedRegistry(
        {
            name: feed.model_copy(update={"retention": policies.get(name, Retention())})
            for name, feed in feeds.items()
        }
    )


def test_periods_parse_days_weeks_and_years():
    assert parse_period("90d") == timedelta(days=90)
    assert parse_period("12w") == timedelta(weeks=12)
    assert parse_period("5y") == timedelta(days=5 * 365)
    with pytest.raises(ValueError, match="like 90d"):
        parse_period("5 years")
    with pytest.raises(ValueError, match="like 90d"):
        Retention(readings="0y")


def test_a_partition_goes_only_when_every_feed_with_sensors_lets_it_go():
    feeds = registry(
        air=Retention(readings="30d", rollups="60d"), traffic=Retention(readings="10d")
    )
    plan = plan_retention(MONTHS, feeds, ["air", "traffic"], ["no2"], NOW)
    # air keeps 30 days: the cutoff is 2026-09-20 12:00; September ends after it.
    assert plan.readings_cutoff == datetime(2026, 9, 20, 12, tzinfo=UTC)
    assert plan.kept_by == "air"
    assert [p.name for p in plan.partitions] == ["readings_2026_07", "readings_2026_08"]
    assert plan.readings_horizon == datetime(2026, 9, 1, tzinfo=UTC)
    # Traffic alone would let September go too.
    alone = plan_retention(MONTHS, feeds, ["traffic"], [], NOW)
    assert [p.name for p in alone.partitions] == [p.name for p in MONTHS[:3]]


def test_a_month_ending_exactly_at_the_cutoff_goes():
    feeds = registry(air=Retention(readings="1d"))
    plan = plan_retention(MONTHS, feeds, ["air"], [], datetime(2026, 9, 2, tzinfo=UTC))
    assert [p.name for p in plan.partitions] == ["readings_2026_07", "readings_2026_08"]


@pytest.mark.parametrize("present", [["air", "energy"], ["air", "retired_feed"]])
def test_a_feed_without_a_policy_keeps_every_partition(present):
    feeds = registry(air=Retention(readings="1d", rollups="1d"))
    plan = plan_retention(MONTHS, feeds, present, [], NOW)
    assert (plan.partitions, plan.readings_cutoff) == ([], None)
    assert plan.kept_by == present[1]


def test_rollup_days_go_when_they_end_before_the_longest_policy_of_their_variable():
    feeds = registry(
        air=Retention(rollups="60d"), traffic=Retention(rollups="20d"), energy=Retention()
    )
    variables = ["no2", "vehicle_count", "energy_kwh"]
    plan = plan_retention(MONTHS, feeds, ["air", "traffic", "energy"], variables, NOW)
    # now - 60 d = 2026-08-21 12:00: the day 2026-08-20 has ended, the 21st has not.
    assert plan.rollups_before == {
        "no2": datetime(2026, 8, 21, tzinfo=UTC),
        "vehicle_count": datetime(2026, 9, 30, tzinfo=UTC),
    }  # energy keeps its rollups forever


def test_a_variable_is_kept_as_long_as_its_longest_keeping_feed_wants():
    feeds = registry(air=Retention(rollups="60d"), traffic=Retention(rollups="20d"))
    stretched = feeds["traffic"].model_copy(
        update={"variables": {**feeds["traffic"].variables, "no2": feeds["air"].variables["no2"]}}
    )
    both = FeedRegistry({**{n: feeds[n] for n in feeds}, "traffic": stretched})
    plan = plan_retention([], both, ["air", "traffic"], ["no2"], NOW)
    assert plan.rollups_before == {"no2": datetime(2026, 8, 21, tzinfo=UTC)}
    # Without air's sensors only traffic's policy covers no2.
    plan = plan_retention([], both, ["traffic"], ["no2"], NOW)
    assert plan.rollups_before == {"no2": datetime(2026, 9, 30, tzinfo=UTC)}


def test_nothing_to_plan_without_sensors():
    plan = plan_retention(MONTHS, registry(), [], ["no2"], NOW)
    assert (plan.partitions, plan.rollups_before, plan.kept_by) == ([], {}, None)


def test_the_feed_files_declare_their_policies():
    feeds = load_feeds(ROOT / "sensors")
    assert feeds["traffic"].retention.readings_period() == timedelta(days=90)
    assert feeds["air"].retention.rollups_period() == timedelta(days=3650)


def test_a_load_beyond_both_policies_is_told_of_both():
    traffic = registry(traffic=Retention(readings="90d", rollups="5y"))["traffic"]
    cutoffs = PolicyCutoffs(traffic, NOW)
    assert (cutoffs.readings, cutoffs.rollups) == (
        datetime(2026, 7, 22, 12, tzinfo=UTC),
        datetime(2021, 10, 21, tzinfo=UTC),
    )
    readings, rollups = policy_warnings(cutoffs, beyond_readings=48, beyond_rollups=24)
    assert readings.startswith(
        "retention: 48 readings are older than 2026-07-22, beyond feed traffic's policy "
        "(readings: 90d); they are stored"
    )
    assert rollups == (
        "retention: 24 readings fall on days before 2021-10-21, beyond feed traffic's policy "
        "(rollups: 5y); their cell rollups are deleted when retention runs (`citytwin retention "
        "apply`, or the service's schedule if CITYTWIN_RETENTION_HOURS is set)"
    )
    assert policy_warnings(cutoffs, 0, 0) == []
    forever = PolicyCutoffs(registry()["traffic"], NOW)
    assert (forever.readings, forever.rollups) == (None, None)
    assert policy_warnings(forever, 48, 24) == []
