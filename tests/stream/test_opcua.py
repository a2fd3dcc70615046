"""The OPC UA source against a real asyncua server (signal controller and energy meter) over
SignAndEncrypt with certificates made in the test: readings with source times, bad values and
nodes, a cut link filled from history, a server restart, a refused security policy."""

import asyncio

import pytest
from asyncua import ua
from pydantic import ValidationError

from citytwin.db.pool import connect
from citytwin.feeds import FeedRegistry
from citytwin.feeds.definition import FeedDefinition
from citytwin.feeds.opcua import OpcUaServer
from citytwin.stream.listener import Listener
from citytwin.stream.opcua import OpcUaSource
from citytwin.stream.source import configured_sources
from tests.stream.conftest import until
from tests.stream.opcua_plant import PASSWORD, USER, Link, Plant, certificate

READINGS = """
SELECT s.feed, s.external_id, v.name AS variable, r.time, r.value
FROM readings r JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id
ORDER BY s.feed, r.time
"""


@pytest.fixture
async def plant(tmp_path):
    running = Plant(tmp_path)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def client_keys(tmp_path):
    return certificate(tmp_path, "client", "urn:example.org:FreeOpcUa:opcua-asyncio")


def server(port: int, keys, nodes: list[dict], mode: str = "SignAndEncrypt", **more) -> OpcUaServer:
    cert, key = keys
    return OpcUaServer(
        endpoint=f"opc.tcp://127.0.0.1:{port}/citytwin/",
        security={"mode": mode, "certificate": cert, "private_key": key} if mode != "None" else {},
        user={"username": USER, "password_env": "CITYTWIN_TEST_OPCUA_PASSWORD"},
        subscription={"publishing_interval_ms": 50, "sampling_interval_ms": 0, "queue_size": 100},
        nodes=nodes,
        **more,
    )


def signal(ns: int) -> dict:
    return {"node": f"ns={ns};s=Signal12.VehicleCount", "sensor_id": "sig-12",
            "variable": "vehicle_count", "unit": "veh/h", "lon": 9.521, "lat": 47.139}  # fmt: skip


def meter(ns: int, **changes) -> dict:
    return {"browse_path": ["0:Objects", f"{ns}:Meter7", f"{ns}:Power"], "sensor_id": "meter-7",
            "variable": "power_kw", "unit": "W", "lon": 9.523, "lat": 47.141} | changes  # fmt: skip


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("CITYTWIN_TEST_OPCUA_PASSWORD", PASSWORD)


async def running(settings, feeds, sources) -> tuple[Listener, asyncio.Task]:
    configured = settings.updated(mqtt_batch_ms=20)
    listener = Listener(configured, feeds, lambda: connect(settings.database.database_url), sources)
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 20)
    return listener, task


async def stopped(listener: Listener, task: asyncio.Task) -> None:
    listener.stop()
    await asyncio.wait_for(task, 20)


async def test_changes_are_stored_with_source_times_and_bad_values_are_dead_letters(
    plant, client_keys, settings, feeds, conn
):
    ns = plant.namespace
    traffic = OpcUaSource("traffic", server(plant.port, client_keys, [signal(ns)]))
    energy = OpcUaSource(
        "energy",
        server(
            plant.port,
            client_keys,
            [meter(ns), meter(ns, browse_path=None, node=f"ns={ns};s=Meter7.Mode", sensor_id="m"),
             meter(ns, browse_path=None, node=f"ns={ns};s=Meter7.Gone", sensor_id="g")],
        ),
    )  # fmt: skip
    listener, task = await running(settings, feeds, [traffic, energy])
    assert (traffic.health().state, energy.health().state) == ("connected", "connected")
    faults = [(f.kind, f.detail.split(":")[0]) for f in energy.health().faults]
    assert ("type", f"ns={ns};s=Meter7.Mode holds String, not a number") in [
        (f.kind, f.detail) for f in energy.health().faults
    ]
    assert ("missing node", f"ns={ns};s=Meter7.Gone") in faults
    await plant.write("count", 420.0, 1)
    await plant.write("power", 1500.0, 1)  # W → kW
    await plant.write("power", 1750.0, 2)
    await plant.write("power", 1.0, 3, status=ua.StatusCodes.BadSensorFailure)
    await plant.write("power", "broken", 4)  # the node changes type
    await until(lambda: listener.stats.acked >= 6)  # 2 initial values, 4 changes
    rows = [
        (r["feed"], r["external_id"], r["time"].strftime("%H:%M"), r["value"])
        for r in await conn.fetch(READINGS)
    ]
    assert rows == [
        ("energy", "meter-7", "08:00", 0.0),
        ("energy", "meter-7", "08:01", 1.5),
        ("energy", "meter-7", "08:02", 1.75),
        ("traffic", "sig-12", "08:00", 0.0),
        ("traffic", "sig-12", "08:01", 420.0),
    ]
    letters = await conn.fetch("SELECT feed, format, reason FROM dead_letters ORDER BY id")
    assert [(r["feed"], r["format"]) for r in letters] == [("energy", "opcua")] * 2
    assert letters[0]["reason"].startswith(f"status BadSensorFailure from node 0:Objects/{ns}:")
    assert letters[1]["reason"].startswith(f"node 0:Objects/{ns}:Meter7/{ns}:Power changed type")
    await stopped(listener, task)


async def test_a_cut_link_is_filled_from_history_and_a_restart_without_history_is_a_gap(
    plant, client_keys, settings, feeds, conn
):
    link = Link(plant.port)
    await link.start()
    ns = plant.namespace
    source = OpcUaSource("energy", server(link.port, client_keys, [meter(ns)]))
    traffic = OpcUaSource("traffic", server(link.port, client_keys, [signal(ns)]))
    listener, task = await running(settings, feeds, [source, traffic])
    await until(lambda: source.watermarks and traffic.watermarks)  # the values at START stored
    link.cut()
    await until(lambda: source.health().state == "reconnecting", 20)
    for minute in range(1, 6):  # while away: the meter keeps history, the signal does not
        await plant.write("power", 1000.0 + minute * 100, minute)
        await plant.write("count", 300.0 + minute, minute)
    link.mend()
    await until(lambda: source.health().state == "connected", 30)
    await until(lambda: max(source.watermarks.values()).minute == 5, 20)
    powers = await conn.fetch(
        "SELECT value FROM readings r JOIN sensors s ON s.id = r.sensor_id "
        "WHERE s.external_id = 'meter-7' ORDER BY time"
    )
    assert [r["value"] for r in powers] == pytest.approx([0.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    gaps = [f.detail for f in traffic.health().faults if f.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].startswith(f"ns={ns};s=Signal12.VehicleCount: no history")

    await plant.stop()  # a restart: the same nodes, no history kept
    await until(lambda: source.health().state == "reconnecting", 20)
    await plant.start()
    await until(lambda: source.health().state == "connected", 30)
    await plant.write("power", 2000.0, 10)
    await until(lambda: max(source.watermarks.values()).minute == 10, 20)
    newest = await conn.fetchrow(
        "SELECT value, time FROM readings r JOIN sensors s ON s.id = r.sensor_id "
        "WHERE s.external_id = 'meter-7' ORDER BY time DESC LIMIT 1"
    )
    assert (newest["value"], newest["time"].strftime("%H:%M")) == (2.0, "08:10")
    await stopped(listener, task)
    await link.stop()


async def test_a_refused_security_policy_is_reported_and_the_other_sources_go_on(
    plant, client_keys, settings, feeds, conn
):
    ns = plant.namespace
    plain = OpcUaSource("traffic", server(plant.port, client_keys, [signal(ns)], mode="None"))
    secure = OpcUaSource("energy", server(plant.port, client_keys, [meter(ns)]))
    listener, task = await running(settings, feeds, [plain, secure])
    await plant.write("power", 900.0, 1)
    await until(lambda: listener.stats.acked >= 2)
    assert plain.health().state == "reconnecting"
    refused = plain.health().faults[0]
    assert refused.kind == "refused"
    assert await conn.fetchval("SELECT count(*) FROM readings WHERE value = 0.9") == 1
    await stopped(listener, task)


def test_feeds_declare_their_servers_and_a_bad_mapping_names_its_key(settings, feeds):
    declared = {"opcua": [{"name": "meter-7", "endpoint": "opc.tcp://10.0.0.7:4840",
                           "security": {"mode": "Sign", "certificate": "c.der",
                                        "private_key": "c.pem"},
                           "nodes": [meter(2)]}]}  # fmt: skip
    energy = FeedDefinition.model_validate(feeds["energy"].model_dump() | {"sources": declared})
    registry = FeedRegistry({"energy": energy, "traffic": feeds["traffic"]})
    (source,) = configured_sources(settings, registry, ["opcua"])
    assert (source.name, source.feed, source.server.nodes[0].address) == (
        "meter-7", "energy", "0:Objects/2:Meter7/2:Power"
    )  # fmt: skip
    declared["opcua"][0]["nodes"] = [meter(2, variable="voltage")]
    with pytest.raises(ValidationError, match=r"nodes\.0\.variable: 'voltage' is not"):
        FeedDefinition.model_validate(feeds["energy"].model_dump() | {"sources": declared})
    declared["opcua"][0]["nodes"] = [meter(2, unit="furlong")]
    with pytest.raises(ValidationError, match=r"sources\.opcua\.0\.nodes\.0\.unit: "):
        FeedDefinition.model_validate(feeds["energy"].model_dump() | {"sources": declared})
    del declared["opcua"][0]["security"]["private_key"]
    with pytest.raises(ValidationError, match="mode Sign needs certificate and private_key"):
        FeedDefinition.model_validate(feeds["energy"].model_dump() | {"sources": declared})
