"""Pushed payloads (NGSI-LD entities, SensorThings Observations) into the store, with dead letters.

Every payload goes through the file ingest (`services.ingest.ingest`, its mapped rows handed over
as read rows). A body that cannot be read at all is dead-lettered whole; an item that cannot be
mapped or validated is reported and dead-lettered on its own, so nothing is dropped silently.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from citytwin.db import dead_letters
from citytwin.db.pool import Connection
from citytwin.errors import MalformedInput
from citytwin.feeds import FeedRegistry
from citytwin.ingest import payloads
from citytwin.ingest.payload_formats import map_payload, payload_format
from citytwin.services.ingest import IngestReport, ingest, local_zone

KEPT_BYTES = 64 << 10  # how much of an oversized body a dead letter keeps


@dataclass
class PushResult:
    """What became of each item of a payload (1-based positions) and of its readings."""

    items: list
    errors: dict[int, list[str]] = field(default_factory=dict)
    reports: dict[str, IngestReport] = field(default_factory=dict)
    rows: dict[int, dict] = field(default_factory=dict)  # a mapped row of each item

    @property
    def loaded(self) -> int:
        return sum(report.loaded for report in self.reports.values())

    def summary(self) -> dict:
        return {
            "read": sum(r.read for r in self.reports.values()),
            "loaded": self.loaded,
            "duplicates": sum(r.duplicates for r in self.reports.values()),
            "feeds": {feed: report.as_dict() for feed, report in self.reports.items()},
        }


async def push_items(
    conn: Connection,
    feeds: FeedRegistry,
    by_feed: dict[str, payloads.MappedRows],
    items: list,
    format: str,
    *,
    resolution: int,
    bucket_seconds: int,
    dead_letter: bool = True,
) -> PushResult:
    """Ingest mapped rows feed by feed; list and dead-letter every item that failed."""
    result = PushResult(items)
    errors: dict[int, list[str]] = defaultdict(list)
    feed_of: dict[int, str | None] = {}
    for feed, mapped in by_feed.items():
        for rejection in mapped.rejected:
            errors[rejection.line].append(f"{rejection.field}: {rejection.error}")
            feed_of[rejection.line] = feed or None
        if not mapped.rows:
            continue
        report = await ingest(
            conn,
            feeds[feed],
            mapped.to_raw_rows(),
            encoding="ndjson",
            resolution=resolution,
            bucket_seconds=bucket_seconds,
            city_zone=feeds.city_zone,
        )
        result.reports[feed] = report
        for row in mapped.rows:
            result.rows.setdefault(row["item"], {**row, "feed": feed})
        for rejection in report.rejected:  # NDJSON line i is mapped.rows[i - 1]
            item = mapped.rows[rejection.line - 1]["item"]
            errors[item].append(f"{rejection.field}: {rejection.error}")
            feed_of[item] = feed
    result.errors = dict(sorted(errors.items()))
    if dead_letter:
        await dead_letters.record_many(
            conn,
            [
                (
                    feed_of[item],
                    format,
                    "; ".join(reasons),
                    orjson.dumps(items[item - 1], option=orjson.OPT_NON_STR_KEYS),
                )
                for item, reasons in result.errors.items()
            ],
        )
    return result


def parse_payload(
    data: bytes, format: str, feeds: FeedRegistry, feed: str | None = None
) -> tuple[list, dict]:
    """(items, mapped rows per feed) of a raw payload (canonical readings go to `feed`);
    `MalformedInput` if it cannot be read."""
    return map_payload(payloads.load_json(data), payload_format(format), feeds, feed)


async def push_payload(
    conn: Connection,
    feeds: FeedRegistry,
    data: bytes,
    format: str,
    *,
    resolution: int,
    bucket_seconds: int,
    dead_letter: bool = True,
    check_feeds: Callable[[Iterable[str]], None] | None = None,
    feed: str | None = None,
    future: timedelta | None = None,
) -> PushResult:
    """Parse, map and ingest one raw payload; an unreadable one is dead-lettered, then raised.
    `check_feeds` may refuse (raise) the feeds the payload maps to before anything is stored."""
    try:
        items, by_feed = parse_payload(data, format, feeds, feed)
    except MalformedInput as exc:
        if dead_letter:
            await dead_letters.record(conn, None, format, str(exc), data)
        raise
    if check_feeds is not None:
        check_feeds(feed for feed, mapped in by_feed.items() if feed and mapped.rows)
    if future is not None:  # a sender's clock gone wrong: those items are rejected, not stored
        now, known = datetime.now(UTC), set(feeds)
        zone = await local_zone(conn, feeds.city_zone)  # naive times: as file ingest reads them
        for name, mapped in by_feed.items():
            if name in known:  # items of no feed are rejected already
                payloads.reject_future(mapped, feeds[name].timezone or zone, now, future)
    return await push_items(
        conn,
        feeds,
        by_feed,
        items,
        format,
        resolution=resolution,
        bucket_seconds=bucket_seconds,
        dead_letter=dead_letter,
    )


async def replay(
    conn: Connection,
    feeds: FeedRegistry,
    letter_id: int,
    *,
    resolution: int,
    bucket_seconds: int,
    future: timedelta | None = None,
) -> PushResult:
    """Run a dead letter's payload through its path again; marked replayed if all of it lands."""
    letter = await dead_letters.get(conn, letter_id)
    result = await push_payload(
        conn,
        feeds,
        bytes(letter["payload"]),
        letter["format"],
        resolution=resolution,
        bucket_seconds=bucket_seconds,
        dead_letter=False,
        feed=letter["feed"],
        future=future,
    )
    if not result.errors:
        await dead_letters.mark_replayed(conn, letter_id)
    return result
