"""The broker killed (SIGKILL) or stopped (SIGTERM) while the listener holds messages it could
not store yet (the database away): a real Mosquitto restarted on its persistence directory,
real PostGIS. Nothing is lost, and nothing is stored or counted as loaded twice."""

import asyncio
import time

import pytest

from tests.stream.conftest import FlakyStore, numbered, publish, until

AUTOSAVE = "autosave_interval 1\n"  # compose saves every 10 s; a test cannot wait that long


async def test_a_killed_broker_that_saved_nothing_leaves_the_held_copies_to_be_stored(
    listeners, broker, settings, conn
):
    store = FlakyStore(settings.database.database_url)
    listener = listeners.start(store, mqtt_batch_size=30)
    await asyncio.wait_for(listener.ready.wait(), 10)
    assert await asyncio.to_thread(publish, broker.port, numbered(60)) == 60
    await until(lambda: listener.stats.received == 60 and store.attempts >= 2)
    listener.ready.clear()
    await asyncio.to_thread(broker.kill)
    # Killed before its first autosave: the broker kept no session and no message.
    assert not (broker.root / "mosquitto.db").exists()
    await asyncio.to_thread(broker.start)
    await asyncio.wait_for(listener.ready.wait(), 15)  # a new session: nothing comes again
    assert listener.source("mqtt").held == 60  # so the listener keeps what it holds
    store.up = True
    await until(lambda: listener.stats.stored == 60 and listener.source("mqtt").held == 0)
    assert listener.stats.acked == 0  # they came on the lost connection: nothing to ack
    # Subscribed again on the new session: later messages arrive.
    assert await asyncio.to_thread(publish, broker.port, numbered(90)[60:]) == 30
    await until(lambda: listener.stats.acked == 30)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 90
    assert (
        await conn.fetchval("SELECT count(DISTINCT (sensor_id, variable_id, time)) FROM readings")
        == 90
    )
    assert (listener.stats.loaded, listener.stats.duplicates) == (90, 0)


@pytest.mark.parametrize("broker", [AUTOSAVE], indirect=True)
@pytest.mark.parametrize("fault", ["sigkill-after-autosave", "sigterm"])
async def test_a_restarted_broker_sends_its_saved_messages_again_and_each_is_stored_once(
    fault, listeners, broker, settings, conn
):
    store = FlakyStore(settings.database.database_url)
    # The broker sends at most 50 unacknowledged: 150 wait in its queue, 50 in the listener.
    listener = listeners.start(store, mqtt_max_held=50, mqtt_batch_size=20)
    await asyncio.wait_for(listener.ready.wait(), 10)
    assert await asyncio.to_thread(publish, broker.port, numbered(200)) == 200
    accepted = time.time()
    await until(lambda: listener.stats.received == 50 and store.attempts >= 2)
    saved = broker.root / "mosquitto.db"
    await until(lambda: saved.exists() and saved.stat().st_mtime > accepted + 1)
    listener.ready.clear()
    await asyncio.to_thread(broker.kill if fault.startswith("sigkill") else broker.stop)
    await asyncio.to_thread(broker.start)
    source = listener.source("mqtt")
    # Back on the kept session, the broker sends all 200 again: the held copies not being
    # stored yet are dropped (those of the batch in retry stay and are stored).
    await until(lambda: any(fault.kind == "redelivery" for fault in source.status.faults))
    redelivery = next(fault for fault in source.status.faults if fault.kind == "redelivery")
    dropped = int(redelivery.detail.split()[0])
    assert 30 <= dropped <= 50  # the batch in retry holds at most 20
    store.up = True
    await until(lambda: listener.stats.acked == 200 and source.held == 0, 30)
    await listeners.finish(listener)
    assert await conn.fetchval("SELECT count(*) FROM readings") == 200
    stats = listener.stats
    # The batch in retry was stored from its old copies: their resent copies are duplicates.
    assert (stats.loaded, stats.duplicates) == (200, 50 - dropped)
    assert stats.stored == 200 + stats.duplicates
