"""Which stored data is beyond its feeds' retention: a plan from policies and a clock, no I/O.

Readings partitions (UTC months) hold every feed, so a partition is dropped only when all of it
is older than the readings policy of every feed with sensors in the store; a feed without a
readings policy keeps every partition. A cell rollup row (one UTC day of a variable) is deleted
when the whole day is older than the rollups policy of every feed declaring that variable that
has sensors (variables are shared by feeds); without such a policy it is kept.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from citytwin.feeds import FeedDefinition


@dataclass(frozen=True)
class Partition:
    """A readings partition: its table and the times it holds, [start, end)."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RetentionPlan:
    """What to drop: partitions (oldest first), and per variable the UTC day before which its
    rollups go; `kept_by` says which feed keeps readings longest (None: nothing to keep)."""

    now: datetime
    readings_cutoff: datetime | None
    kept_by: str | None
    partitions: list[Partition] = field(default_factory=list)
    rollups_before: dict[str, datetime] = field(default_factory=dict)

    @property
    def readings_horizon(self) -> datetime | None:
        """Every reading before this time is dropped by the plan."""
        return max((p.end for p in self.partitions), default=None)


def _longest(periods: Iterable[tuple[str, timedelta | None]]) -> tuple[str, timedelta | None]:
    """The (feed, period) keeping data longest; a None period (forever) wins."""
    chosen: tuple[str, timedelta | None] | None = None
    for feed, period in periods:
        if period is None:
            return feed, None
        if chosen is None or period > chosen[1]:
            chosen = (feed, period)
    if chosen is None:
        raise ValueError("no feed to take a period from")
    return chosen


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def describe_plan(
    plan: RetentionPlan,
    readings: Mapping[str, int],
    rollups: Mapping[str, int],
    variables: Iterable[str],
    done: bool,
) -> list[str]:
    """The plan in lines for people and logs: what is kept and why, each partition with its
    readings and each variable's rollup rows, as done (`done`) or still to do."""
    verb, deleting = ("dropped", "deleted") if done else ("would drop", "would delete")
    if plan.readings_cutoff is None:
        reason = f"feed {plan.kept_by} keeps them forever" if plan.kept_by else "no sensors"
        lines = [f"readings: every partition kept ({reason})"]
    else:
        lines = [
            f"readings: kept from {plan.readings_cutoff:%Y-%m-%dT%H:%M:%SZ} "
            f"(feed {plan.kept_by} keeps them longest)"
        ]
    for partition in plan.partitions:
        lines.append(
            f"readings: {verb} {partition.name} ({partition.start:%Y-%m}, whole month, "
            f"{readings.get(partition.name, 0)} readings)"
        )
    for variable in variables:
        if variable not in plan.rollups_before:
            lines.append(f"rollups: {variable} kept (a feed with it keeps them forever)")
            continue
        before = f"{plan.rollups_before[variable]:%Y-%m-%d}"
        lines.append(
            f"rollups: {variable} days before {before}: {deleting} {rollups[variable]} rows"
        )
    return lines


def plan_retention(
    partitions: Iterable[Partition],
    feeds: Mapping[str, FeedDefinition],
    feeds_with_data: Iterable[str],
    variables: Iterable[str],
    now: datetime,
) -> RetentionPlan:
    """The plan at `now` for the stored `partitions` and `variables`, given the feeds that have
    sensors (a feed with sensors but no definition keeps everything)."""
    present = sorted(set(feeds_with_data))
    if not present:
        return RetentionPlan(now, None, None)
    defined = {name: feeds[name] for name in feeds}

    def policy(feed: str, kind: str) -> timedelta | None:
        definition = defined.get(feed)
        if definition is None:
            return None
        retention = definition.retention
        return retention.readings_period() if kind == "readings" else retention.rollups_period()

    kept_by, keep = _longest((feed, policy(feed, "readings")) for feed in present)
    cutoff = None if keep is None else now - keep
    dropped = []
    if cutoff is not None:
        dropped = sorted((p for p in partitions if p.end <= cutoff), key=lambda p: p.start)
    rollups_before = {}
    for variable in sorted(set(variables)):
        declaring = [f for f in present if f in defined and variable in defined[f].variables]
        if not declaring:
            continue  # a variable no present feed declares: nobody's policy applies
        _, period = _longest((feed, policy(feed, "rollups")) for feed in declaring)
        if period is not None:
            # Day rows are [day, day + 1 d): a day goes when it ends at or before the cutoff.
            rollups_before[variable] = _midnight(now - period)
    return RetentionPlan(now, cutoff, kept_by, dropped, rollups_before)


@dataclass(frozen=True)
class PolicyCutoffs:
    """A feed's retention at one moment: readings and rollups before these times are beyond
    its policy (None: kept forever)."""

    feed: FeedDefinition
    now: datetime

    @property
    def readings(self) -> datetime | None:
        period = self.feed.retention.readings_period()
        return None if period is None else self.now - period

    @property
    def rollups(self) -> datetime | None:
        period = self.feed.retention.rollups_period()
        return None if period is None else _midnight(self.now - period)


def policy_warnings(cutoffs: PolicyCutoffs, beyond_readings: int, beyond_rollups: int) -> list[str]:
    """What a load is told when some of its readings are already beyond its feed's policy: they
    are stored, and retention will drop them when it runs (it never runs unless configured)."""
    warnings = []
    policy = cutoffs.feed.retention
    when = (
        "when retention runs (`citytwin retention apply`, or the service's schedule if "
        "CITYTWIN_RETENTION_HOURS is set)"
    )
    if beyond_readings and cutoffs.readings is not None:
        warnings.append(
            f"retention: {beyond_readings} readings are older than {cutoffs.readings:%Y-%m-%d}, "
            f"beyond feed {cutoffs.feed.name}'s policy (readings: {policy.readings}); they are "
            f"stored, and their months are dropped {when}, unless another feed with sensors "
            "keeps readings longer"
        )
    if beyond_rollups and cutoffs.rollups is not None:
        warnings.append(
            f"retention: {beyond_rollups} readings fall on days before "
            f"{cutoffs.rollups:%Y-%m-%d}, beyond feed {cutoffs.feed.name}'s policy "
            f"(rollups: {policy.rollups}); their cell rollups are deleted {when}"
        )
    return warnings
