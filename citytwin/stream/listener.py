"""`citytwin listen`: batches of messages from every source stored as readings, then acknowledged.

Messages of all running sources (MQTT, OPC UA, ...; see `source.py`) are collected for up to
`mqtt_batch_size` messages or `mqtt_batch_ms`; a batch is mapped to rows (in a worker thread, while
the batch before it is stored), stored (one ingest transaction per feed, dead letters for what
cannot be read or validated) and only then acknowledged to each source, in order, so
delivery is at least once and the store, keyed by (sensor, variable, time), makes a message sent
again count as a duplicate. While the database is away the batch is kept and retried with
back-off, nothing is acknowledged, and each source bounds what it holds (the MQTT session at most
`mqtt_max_held` messages: the broker keeps the rest).
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from citytwin.db import dead_letters
from citytwin.db.pool import Connection, connect
from citytwin.db.queries.source_health import write_source_health
from citytwin.feeds import FeedRegistry
from citytwin.services.ingest import local_zone
from citytwin.services.push import KEPT_BYTES
from citytwin.settings import Settings
from citytwin.stream import pipeline
from citytwin.stream.batcher import Backoff, Batcher
from citytwin.stream.messages import MappedBatch, map_batch
from citytwin.stream.source import Message, Source, configured_sources
from citytwin.stream.store import UNAVAILABLE, BatchStore, Outcome

log = logging.getLogger("citytwin.listen")
T = TypeVar("T")

STORE_TIMEOUT = 120.0  # a batch takes well under a second; longer means a dead connection
PROBE_TIMEOUT = 5.0  # for `SELECT 1` on a fresh connection
SUMMARY_EVERY = 30.0  # seconds between progress lines in the log
HEALTH_EVERY = 5.0  # seconds between writes of the sources' health for `/twin/state`


@dataclass
class Stats:
    """Running totals of a listener."""

    received: int = 0
    stored: int = 0  # messages of stored batches (as readings or dead letters)
    acked: int = 0
    batches: int = 0
    loaded: int = 0
    duplicates: int = 0
    dead_letters: int = 0

    def add(self, outcome: Outcome, messages: int) -> None:
        self.batches += 1
        self.stored += messages
        self.loaded += outcome.loaded
        self.duplicates += outcome.duplicates
        self.dead_letters += outcome.dead_letters


class Listener:
    """Runs sources, batches, stores and acknowledges; `run` until `stop`."""

    def __init__(
        self,
        settings: Settings,
        feeds: FeedRegistry,
        connect_store: Callable[[], Awaitable[Connection]],
        sources: list[Source] | None = None,
        health_every: float = HEALTH_EVERY,
    ) -> None:
        self.settings = settings
        self.feeds = feeds
        self.connect_store = connect_store
        self.sources = configured_sources(settings, feeds) if sources is None else sources
        self.batcher: Batcher[Message] = Batcher(
            settings.streams.mqtt_batch_size, settings.streams.mqtt_batch_ms / 1000
        )
        self.stats = Stats()
        self.ready = asyncio.Event()  # set once every source delivers
        self._ready: set[int] = set()
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._conn: Connection | None = None
        self.health_every = health_every
        self._health_conn: Connection | None = None

    def source(self, kind: str) -> Source:
        """The first running source of `kind`."""
        return next(source for source in self.sources if source.kind == kind)

    def health(self) -> dict[str, dict]:
        """Each source's health by name."""
        return {source.name: source.health().as_dict() for source in self.sources}

    async def _publish_health(self) -> None:
        """Write each source's health to the store (skipped while the database is away: the
        next write catches up)."""
        now = datetime.now(UTC)
        rows = [
            {"name": s.name, "kind": s.kind, "health": s.health().as_dict(), "updated": now}
            for s in self.sources
        ]
        if not rows:
            return
        try:
            if self._health_conn is None or self._health_conn.is_closed():
                self._health_conn = await self.connect_store()
            await write_source_health(self._health_conn, rows)
        except (OSError, *UNAVAILABLE) as exc:
            log.info("sources' health not written (%s): the next write catches up", exc)
            if self._health_conn is not None:
                self._health_conn.terminate()
                self._health_conn = None

    async def _publish_health_every(self) -> None:
        while True:
            await self._publish_health()
            await asyncio.sleep(self.health_every)

    def stop(self) -> None:
        """Store and acknowledge what is held (if the database is there), then leave."""
        self._stop.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Start the sources (each retrying with back-off), then store batches until `stop`."""
        loop = asyncio.get_running_loop()
        last_summary = loop.time()
        publishing = asyncio.create_task(self._publish_health_every())
        try:
            for source in self.sources:
                await source.start(self)
            if not self.sources:
                self.ready.set()
            timing = pipeline.Timing()
            current, timing.mapping = await self._next_mapped(await self._zone(), loop.time())
            while current is not None:
                # The next batch is taken and mapped while this one is stored, taken as late as
                # lets it be mapped by the time this store ends (so it holds all that came).
                started = loop.time()
                following = asyncio.create_task(
                    self._next_mapped(await self._zone(), timing.take_next(started))
                )
                try:
                    stored = await self._store(*current)
                except BaseException:
                    await pipeline.dropped(following)
                    raise
                timing.storing = loop.time() - started
                pipeline.settle(current[0], stored, self._ack)
                if not stored:
                    await pipeline.dropped(following)
                    break  # stopping while the database is away: the sources keep them
                if loop.time() - last_summary >= SUMMARY_EVERY:
                    last_summary = loop.time()
                    self._summary()
                current, timing.mapping = await following
        finally:
            for source in self.sources:
                try:
                    await source.stop()
                except Exception:  # one source failing to stop must not keep the others
                    log.exception("source %s did not stop cleanly", source.name)
            if self._conn is not None:
                self._conn.terminate()
            publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publishing
            await self._publish_health()  # the sources' last word: stopped
            if self._health_conn is not None:
                self._health_conn.terminate()
            self._summary()

    # The sink the sources deliver to (on this event loop).

    def deliver(self, message: Message) -> None:
        """Hold one message of a source until its batch is due."""
        self.batcher.add(message, asyncio.get_running_loop().time())
        self.stats.received += 1
        if len(self.batcher) == 1 or len(self.batcher) >= self.batcher.size:
            self._wakeup.set()

    def withdraw(self, unwanted: Callable[[Message], bool]) -> list[Message]:
        """Drop held messages that their source will send again."""
        dropped = self.batcher.discard(unwanted)
        if dropped:
            log.info("%d held messages will come again from their source", len(dropped))
        return dropped

    def ready_source(self, source: Source) -> None:
        """`source` is delivering; `ready` once all are."""
        self._ready.add(id(source))
        if len(self._ready) == len(self.sources):
            self.ready.set()

    def _summary(self) -> None:
        s = self.stats
        log.info(
            "%d messages stored in %d batches: %d readings loaded, %d duplicates, %d dead letters",
            s.stored,
            s.batches,
            s.loaded,
            s.duplicates,
            s.dead_letters,
        )

    async def _next_batch(self, not_before: float) -> list[Message] | None:
        """The next due batch, not taken before `not_before` (loop time) unless full; once
        stopping, what is still held (taking no more), then None."""
        loop = asyncio.get_running_loop()
        while True:
            stopping = self._stop.is_set()
            if stopping:
                for source in self.sources:
                    source.stop_reading()
            now = loop.time()
            full = len(self.batcher) >= self.batcher.size
            if (self.batcher.ready(now) and (now >= not_before or full)) or (
                stopping and len(self.batcher)
            ):
                return self.batcher.take()
            if stopping:
                return None
            deadline = self.batcher.deadline()
            self._wakeup.clear()
            timeout = None if deadline is None else max(0.0, deadline - now, not_before - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _ack(self, source: Source, messages: list[Message]) -> None:
        acked = source.ack(messages)
        self.stats.acked += acked
        if source.kind == "mqtt":
            stale = sum(1 for message in messages if message.token.qos) - acked
            if stale:
                log.info("%d stored messages came on a lost connection: resent", stale)

    async def _connection(self) -> Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self.connect_store()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _reachable(self) -> bool:
        """Whether the database answers on a fresh connection now."""
        try:
            conn = await self._connection()
            await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_TIMEOUT)
        except UNAVAILABLE:
            self._drop_connection()
            return False
        return True

    async def _retrying(self, attempt: Callable[[Connection], Awaitable[T]]) -> T | None:
        """`attempt` until it succeeds, reconnecting with back-off; None if stopped meanwhile.
        An error that is not the database going away is raised, unless the database turns out
        to be away too (then the attempt waits for it like any other)."""
        backoff = Backoff(first=0.25, limit=5.0)
        while True:
            try:
                conn = await self._connection()
                outcome = await asyncio.wait_for(attempt(conn), STORE_TIMEOUT)
            except UNAVAILABLE as exc:
                self._drop_connection()
                reason: BaseException = exc
            except Exception as exc:
                # A failed or cancelled operation can leave the connection mid-protocol, and the
                # next one on it fails with "another operation is in progress": never reused.
                self._drop_connection()
                if await self._reachable():
                    raise
                reason = exc
            except BaseException:
                self._drop_connection()
                raise
            else:
                if backoff.attempts:
                    log.info("database back after %d retries", backoff.attempts)
                return outcome
            if backoff.attempts == 0:
                held = sum(source.held for source in self.sources)
                log.warning(
                    "database unavailable (%s): holding %d messages unacknowledged, "
                    "retrying with back-off",
                    (str(reason).splitlines() or [type(reason).__name__])[0],
                    held,
                )
            if await self._stopped_within(backoff.next_delay()):
                return None

    async def _zone(self) -> str | None:
        """The zone naive times are read in, as file ingest reads them: CITYTWIN_TIME_ZONE, else
        the zone of the city imported now (a re-import while listening is followed)."""
        return await self._retrying(lambda conn: local_zone(conn, self.feeds.city_zone))

    def _map(self, batch: list[Message], zone: str | None) -> MappedBatch:
        return map_batch(
            batch,
            self.feeds,
            max_bytes=self.settings.streams.mqtt_max_payload_bytes,
            now=datetime.now(UTC),
            future=timedelta(seconds=self.settings.ingest.future_seconds),
            city_zone=zone,
        )

    async def _next_mapped(
        self, zone: str | None, not_before: float
    ) -> tuple[pipeline.Mapped | None, float]:
        """The next batch (see `_next_batch`) mapped in a worker thread, and the seconds that
        took; None once stopped and all is taken."""
        batch = await self._next_batch(not_before)
        if batch is None:
            return None, 0.0
        began = time.perf_counter()
        try:
            mapped = await asyncio.to_thread(self._map, batch, zone)
        except BaseException:
            pipeline.settle(batch, False, self._ack)
            raise
        return (batch, mapped), time.perf_counter() - began

    async def _store(self, batch: list[Message], mapped: MappedBatch | None = None) -> bool:
        """Store a batch (readings and dead letters; mapped now unless it is), False if stopped
        before it could be."""
        if mapped is None:
            mapped = await asyncio.to_thread(self._map, batch, await self._zone())
        progress = BatchStore(mapped)

        async def attempt(conn: Connection) -> Outcome:
            return await progress.run(
                conn,
                self.feeds,
                resolution=self.settings.ingest.h3_resolution,
                bucket_seconds=self.settings.database.rollup_bucket_seconds,
            )

        try:
            outcome = await self._retrying(attempt)
        except Exception as exc:  # not the database going away: something the store refuses
            if len(batch) > 1:
                log.exception("a batch could not be stored: storing its messages one by one")
                return all([await self._store([message]) for message in batch])
            return await self._store_refused(batch[0], exc)
        if outcome is None:
            return False
        self.stats.add(outcome, len(batch))
        return True

    async def _store_refused(self, message: Message, exc: Exception) -> bool:
        """Dead-letter one message the store raised on, so that the stream goes on."""
        log.error("a message on %s was refused by the store: %r", message.topic, exc)
        reason = f"the store refused it: {exc!r} (topic {message.topic})"
        letter = (message.feed, message.kind, reason, message.payload[:KEPT_BYTES])

        async def attempt(conn: Connection) -> Outcome:
            await dead_letters.record_many(conn, [letter])
            return Outcome(dead_letters=1)

        outcome = await self._retrying(attempt)
        if outcome is None:
            return False
        self.stats.add(outcome, 1)
        return True


async def listen(
    settings: Settings, feeds: FeedRegistry, connect_store: Callable[[], Awaitable[Connection]]
) -> Stats:
    """Run a listener until SIGTERM or SIGINT; its totals."""
    listener = Listener(settings, feeds, connect_store)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, listener.stop)
    try:
        await listener.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return listener.stats


@contextlib.asynccontextmanager
async def running_sources(
    settings: Settings, feeds: FeedRegistry, url: str, enabled: bool
) -> AsyncIterator[Listener | None]:
    """A listener of the configured sources running beside the API while the block runs
    (`citytwin serve --listen`); on leaving, what it holds is stored and acknowledged."""
    if not enabled:
        yield None
        return
    listener = Listener(settings, feeds, lambda: connect(url))
    task = asyncio.create_task(listener.run())
    try:
        yield listener
    finally:
        listener.stop()
        await task
