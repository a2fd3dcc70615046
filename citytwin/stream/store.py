"""Storing a mapped batch: one ingest transaction per feed, then its dead letters.

A batch is stored in steps (the unreadable messages' dead letters, then each feed); a step that
committed is not run again when the batch is retried after the database went away, so a retry
adds neither readings (they would only count as duplicates) nor dead letters twice.
"""

from dataclasses import dataclass, field

from citytwin.db import dead_letters
from citytwin.db.load import CONNECTION_LOST
from citytwin.db.pool import Connection
from citytwin.errors import DatabaseUnavailable
from citytwin.feeds import FeedRegistry
from citytwin.services.push import push_items
from citytwin.stream.messages import MappedBatch

# What says the database went away (the batch is kept and retried) rather than that it is wrong.
UNAVAILABLE = (DatabaseUnavailable, *CONNECTION_LOST)
UNREADABLE_STEP = ""  # feed names are never empty


@dataclass
class Outcome:
    """What became of a batch's readings and messages."""

    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_letters: int = 0


@dataclass
class BatchStore:
    """One batch on its way into the store; `run` again after a failure resumes it."""

    batch: MappedBatch
    done: set[str] = field(default_factory=set)
    outcome: Outcome = field(default_factory=Outcome)

    async def _letters(self, conn: Connection, letters: list) -> None:
        await dead_letters.record_many(conn, letters)
        self.outcome.dead_letters += len(letters)

    async def run(
        self, conn: Connection, feeds: FeedRegistry, *, resolution: int, bucket_seconds: int
    ) -> Outcome:
        """Store every step not stored yet; raises one of `UNAVAILABLE` if the database went."""
        if UNREADABLE_STEP not in self.done:
            await self._letters(conn, self.batch.unreadable)
            self.done.add(UNREADABLE_STEP)
        for feed, mapped in self.batch.by_feed.items():
            step = feed or "(no feed)"
            if step in self.done:
                continue
            if not feed or not mapped.rows:
                errors: dict[int, list[str]] = {}
                for rejection in mapped.rejected:
                    errors.setdefault(rejection.line, []).append(
                        f"{rejection.field}: {rejection.error}"
                    )
                self.outcome.rejected += len(errors)
                await self._letters(conn, self.batch.dead_letters(feed, errors))
            else:
                result = await push_items(
                    conn,
                    feeds,
                    {feed: mapped},
                    self.batch.items,
                    "mqtt",  # unused: the dead letters are written below, with each item's format
                    resolution=resolution,
                    bucket_seconds=bucket_seconds,
                    dead_letter=False,
                )
                report = result.reports[feed]
                self.outcome.loaded += report.loaded
                self.outcome.duplicates += report.duplicates
                self.outcome.rejected += len(result.errors)
                await self._letters(conn, self.batch.dead_letters(feed, result.errors))
            self.done.add(step)
        return self.outcome
