"""`citytwin listen`: batches of MQTT messages stored as readings, then acknowledged.

Messages are collected for up to `mqtt_batch_size` messages or `mqtt_batch_ms`; a batch is
stored (one ingest transaction per feed, dead letters for what cannot be read or validated) and
only then acknowledged, so delivery is at least once and the store, keyed by (sensor, variable,
time), makes a message sent again count as a duplicate. While the database is away the batch is
kept and retried with back-off, nothing is acknowledged, and the session holds at most
`mqtt_max_held` messages: the broker keeps the rest.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from citytwin.db import dead_letters
from citytwin.db.pool import Connection, connect
from citytwin.feeds import FeedRegistry
from citytwin.services.push import KEPT_BYTES
from citytwin.settings import Settings
from citytwin.stream.batcher import Backoff, Batcher
from citytwin.stream.messages import UNREADABLE, map_batch
from citytwin.stream.mqtt import MAX_HELD_BYTES, Handlers, Received, Session, broker_of
from citytwin.stream.store import UNAVAILABLE, BatchStore, Outcome
from citytwin.stream.topics import feed_of, subscriptions

log = logging.getLogger("citytwin.listen")

STORE_TIMEOUT = 120.0  # a batch takes well under a second; longer means a dead connection
SUMMARY_EVERY = 30.0  # seconds between progress lines in the log


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
    """Subscribes, batches, stores and acknowledges; `run` until `stop`."""

    def __init__(
        self,
        settings: Settings,
        feeds: FeedRegistry,
        connect_store: Callable[[], Awaitable[Connection]],
    ) -> None:
        self.settings = settings
        self.feeds = feeds
        self.connect_store = connect_store
        self.broker = broker_of(settings.mqtt_url)
        self.subscribed = subscriptions(settings.mqtt_topics, feeds)
        self.batcher: Batcher[Received] = Batcher(
            settings.mqtt_batch_size, settings.mqtt_batch_ms / 1000
        )
        self.stats = Stats()
        self.ready = asyncio.Event()  # set once subscribed
        self.session: Session | None = None
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._conn: Connection | None = None

    def stop(self) -> None:
        """Store and acknowledge what is held (if the database is there), then leave."""
        self._stop.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Connect (retrying with back-off), then store batches until `stop`."""
        loop = asyncio.get_running_loop()
        handlers = Handlers(self._received, self._reconnected, self.ready.set)
        session = Session(
            self.broker,
            self.settings.mqtt_client_id,
            list(self.subscribed),
            self.settings.mqtt_max_held,
            loop,
            handlers,
            MAX_HELD_BYTES,
        )
        self.session = session
        session.start()
        last_summary = loop.time()
        try:
            while (batch := await self._next_batch(session)) is not None:
                stored = await self._store(batch)
                if stored:
                    self._ack(session, batch)
                session.release(batch)
                if not stored:
                    break  # stopping while the database is away: the broker keeps them
                if loop.time() - last_summary >= SUMMARY_EVERY:
                    last_summary = loop.time()
                    self._summary()
        finally:
            session.close()
            if self._conn is not None:
                self._conn.terminate()
            self._summary()

    def _received(self, received: Received) -> None:
        self.batcher.add(received, asyncio.get_running_loop().time())
        self.stats.received += 1
        if len(self.batcher) == 1 or len(self.batcher) >= self.batcher.size:
            self._wakeup.set()

    def _reconnected(self, generation: int, session_present: bool) -> None:
        """Back on our kept session, the broker sends what we did not acknowledge again: drop
        the copies not being stored yet. A lost session sends nothing again: keep them."""
        if session_present and self.session is not None:
            dropped = self.batcher.discard(lambda received: received.generation < generation)
            if dropped:
                log.info("%d held messages will come again from the broker", len(dropped))
                self.session.release(dropped)

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

    async def _next_batch(self, session: Session) -> list[Received] | None:
        """The next due batch; once stopping, what is still held (taking no more), then None."""
        loop = asyncio.get_running_loop()
        while True:
            stopping = self._stop.is_set()
            if stopping:
                session.stop_reading()
            now = loop.time()
            if self.batcher.ready(now) or (stopping and len(self.batcher)):
                return self.batcher.take()
            if stopping:
                return None
            deadline = self.batcher.deadline()
            self._wakeup.clear()
            timeout = None if deadline is None else max(0.0, deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _ack(self, session: Session, batch: list[Received]) -> None:
        acked = session.ack(batch)
        self.stats.acked += acked
        stale = sum(1 for received in batch if received.qos) - acked
        if stale:
            log.info("%d stored messages came on a lost connection: the broker resends them", stale)

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

    async def _retrying(
        self, attempt: Callable[[Connection], Awaitable[Outcome]]
    ) -> Outcome | None:
        """`attempt` until it succeeds, reconnecting with back-off; None if stopped meanwhile."""
        backoff = Backoff(first=0.25, limit=5.0)
        while True:
            try:
                conn = await self._connection()
                outcome = await asyncio.wait_for(attempt(conn), STORE_TIMEOUT)
            except UNAVAILABLE as exc:
                self._drop_connection()
                if backoff.attempts == 0:
                    held = self.session.held if self.session else 0
                    log.warning(
                        "database unavailable (%s): holding %d messages unacknowledged, "
                        "retrying with back-off",
                        (str(exc).splitlines() or [type(exc).__name__])[0],
                        held,
                    )
                if await self._stopped_within(backoff.next_delay()):
                    return None
                continue
            if backoff.attempts:
                log.info("database back after %d retries", backoff.attempts)
            return outcome

    async def _store(self, batch: list[Received]) -> bool:
        """Store a batch (readings and dead letters); False if stopped before it could be."""
        mapped = await asyncio.to_thread(
            map_batch,
            [(received.topic, received.payload) for received in batch],
            self.feeds,
            self.subscribed,
            max_bytes=self.settings.mqtt_max_payload_bytes,
            now=datetime.now(UTC),
            future=timedelta(seconds=self.settings.future_seconds),
        )
        progress = BatchStore(mapped)

        async def attempt(conn: Connection) -> Outcome:
            return await progress.run(
                conn,
                self.feeds,
                resolution=self.settings.h3_resolution,
                bucket_seconds=self.settings.rollup_bucket_seconds,
            )

        try:
            outcome = await self._retrying(attempt)
        except Exception as exc:  # not the database going away: something the store refuses
            if len(batch) > 1:
                log.exception("a batch could not be stored: storing its messages one by one")
                return all([await self._store([received]) for received in batch])
            return await self._store_refused(batch[0], exc)
        if outcome is None:
            return False
        self.stats.add(outcome, len(batch))
        return True

    async def _store_refused(self, received: Received, exc: Exception) -> bool:
        """Dead-letter one message the store raised on, so that the stream goes on."""
        log.error("a message on %s was refused by the store: %r", received.topic, exc)
        feed = feed_of(received.topic, self.subscribed)
        reason = f"the store refused it: {exc!r} (topic {received.topic})"
        letter = (feed, UNREADABLE, reason, received.payload[:KEPT_BYTES])

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
async def mqtt_listener(
    settings: Settings, feeds: FeedRegistry, url: str, enabled: bool
) -> AsyncIterator[Listener | None]:
    """A listener running beside the API while the block runs (`citytwin serve --listen`);
    on leaving, what it holds is stored and acknowledged before it stops."""
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
