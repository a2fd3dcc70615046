"""NGSI-LD notifications after loads. Woken by the twin's events (announced by every load, from
the API, the CLI or the MQTT listener, after it committed), so a load never waits for a
subscriber: each wake-up finds the sensors the new events changed, the active subscriptions
that watch any of them, and POSTs each its entities, with bounded retries; a subscription whose
notifications keep failing is marked failed."""

import asyncio
import contextlib
import logging

import httpx
import orjson

from citytwin.db import subscriptions as store
from citytwin.db.pool import Pool
from citytwin.db.queries import ngsi_ld as entities_store
from citytwin.db.queries.sql import Bind
from citytwin.query import ngsi_ld as ld
from citytwin.query.subscriptions import key_values, notification, subscription_params

logger = logging.getLogger("citytwin.notifications")


class Notifier:
    """Sends notifications for the events handed to `on_event`, in the background."""

    def __init__(
        self, pool: Pool, retries: int = 3, dead_after: int = 3, timeout: float = 5.0
    ) -> None:
        self.pool, self.retries, self.dead_after = pool, retries, dead_after
        self.backoff = 0.2  # seconds before the first retry, doubled after each
        self.client = httpx.AsyncClient(timeout=timeout)
        self._seen: int | None = None  # the newest event handled (None: none heard yet)
        self._newest = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def on_event(self, event_id: int) -> None:
        """An event id announced (or the newest stored, on connecting)."""
        self._newest = max(self._newest, event_id)
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            upto = self._newest
            if self._seen is None:  # the first id heard: notify of what comes after it
                self._seen = upto
                continue
            if upto <= self._seen:
                continue
            try:
                await self.notify(self._seen, upto)
            except Exception:
                logger.exception("notifications for events %s..%s failed", self._seen, upto)
            self._seen = upto

    async def notify(self, after: int, upto: int) -> int:
        """Notify the subscribers of the sensors changed by events (after, upto]; how many
        notifications were delivered."""
        async with self.pool.acquire() as conn:
            changed = await store.changed_sensors(conn, after, upto)
            if not changed:
                return 0
            batches = []
            for subscription in await store.active(conn):
                body = subscription["body"]
                bind = Bind()
                query = ld.entity_query(subscription_params(body), bind)
                query.conditions.append(f"s.id = ANY({bind(changed)}::int4[])")
                rows, _ = await entities_store.entities(conn, query, bind, 1000, 0, False)
                if rows:
                    simple = key_values(body)
                    data = [ld.entity_document(row, query.attrs, simple) for row in rows]
                    batches.append((subscription, data))
        delivered = await asyncio.gather(*(self._deliver(s, data) for s, data in batches))
        return sum(delivered)

    async def _deliver(self, subscription: dict, data: list[dict]) -> bool:
        document = notification(subscription["id"], data)
        delivered = False
        for attempt in range(self.retries):
            try:
                answer = await self.client.post(
                    subscription["endpoint"],
                    content=orjson.dumps(document, option=orjson.OPT_UTC_Z),
                    headers={"Content-Type": "application/json"},
                )
                delivered = answer.status_code < 300
            except httpx.HTTPError as exc:
                logger.warning("notification to %s: %s", subscription["endpoint"], exc)
            if delivered:
                break
            await asyncio.sleep(self.backoff * 2**attempt)
        async with self.pool.acquire() as conn:
            await store.record_delivery(conn, subscription["id"], delivered, self.dead_after)
        return delivered
