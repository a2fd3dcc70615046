"""After a failed store the listener never reuses its connection (a cancelled or unfinished
operation leaves it busy: "another operation is in progress"), and a failure while the database
is away holds the batch for the database instead of taking it apart."""

import asyncio
import contextlib
import logging

from citytwin.db.pool import connect
from citytwin.stream import store as store_module
from tests.stream.conftest import FlakyStore, numbered, published, until

BATCH = {"mqtt_batch_size": 100, "mqtt_batch_ms": 1500}  # the messages come as one batch


class CountingStore:
    """The test database, remembering every connection it gave."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.given: list = []

    async def __call__(self):
        self.given.append(await connect(self.url))
        return self.given[-1]


async def test_a_connection_busy_after_a_failed_batch_is_not_used_again(
    listeners, broker, settings, conn, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="citytwin.listen")
    real_push = store_module.push_items
    busy, used = [], []  # the stores' connections (the sources' health has one of its own)

    async def push_items(connection, *args, **kwargs):
        used.append(connection)
        if not busy:  # the first batch fails with a query still running on its connection
            busy.append(asyncio.ensure_future(connection.fetchval("SELECT pg_sleep(30)")))
            await asyncio.sleep(0.2)
            raise RuntimeError("the batch failed mid-query")
        return await real_push(connection, *args, **kwargs)

    monkeypatch.setattr(store_module, "push_items", push_items)
    store = CountingStore(settings.database.database_url)
    listener = listeners.start(store, **BATCH)
    await asyncio.wait_for(listener.ready.wait(), 10)
    await published(broker.port, numbered(5))
    await until(lambda: listener.stats.acked == 5)
    with contextlib.suppress(Exception):
        await busy[0]  # ended by the listener terminating its connection
    assert await conn.fetchval("SELECT count(*) FROM readings") == 5
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert used[0].is_closed() and all(later is not used[0] for later in used[1:])
    assert len(used) > 1 and all(given in store.given for given in used)
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if m.startswith("database unavailable")], messages
    assert "a batch could not be stored: storing its messages one by one" in messages


async def test_a_failure_while_the_database_is_away_holds_the_batch_whole(
    listeners, broker, settings, conn, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="citytwin.listen")
    real_push = store_module.push_items
    store = FlakyStore(settings.database.database_url)
    store.up = True
    failed = []

    async def push_items(connection, *args, **kwargs):
        if not failed:  # the database goes away, and the store fails with a confusing error
            failed.append(True)
            store.up = False
            raise RuntimeError("protocol confused as the server went")
        return await real_push(connection, *args, **kwargs)

    monkeypatch.setattr(store_module, "push_items", push_items)
    listener = listeners.start(store, **BATCH)
    await asyncio.wait_for(listener.ready.wait(), 10)
    await published(broker.port, numbered(5))
    await until(lambda: store.attempts >= 3)
    assert listener.stats.acked == 0  # held, not dead-lettered one by one
    store.up = True
    await until(lambda: listener.stats.acked == 5)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 5
    assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    messages = [record.getMessage() for record in caplog.records]
    assert sum(m.startswith("database unavailable (protocol confused") for m in messages) == 1
    assert not any("one by one" in m for m in messages)
    assert listener.stats.batches == 1
