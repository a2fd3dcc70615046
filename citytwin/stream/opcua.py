"""The OPC UA source: subscriptions to the nodes a feed maps, through asyncua.

Each declared server (`sources.opcua` of a feed) is one source. It connects (security None, Sign
or SignAndEncrypt with Basic256Sha256 certificates, user and password), resolves each mapped node
(NodeId or browse path), checks it holds a number, and subscribes with the declared publishing
and sampling intervals, queue size and deadband. Each data change becomes a canonical reading
timed by its source timestamp. Acknowledging a stored reading moves the node's watermark; after a
lost connection the source reconnects with back-off and reads the gap since the watermark with
HistoryRead where the server keeps history for the node, and records the gap as a fault where it
does not. A node that is missing or not a number, a value with a bad status or of another type,
and a refused security policy are faults in `health()`; values are dead-lettered; the listener's
other sources go on.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from asyncua import Client, Node, ua
from asyncua.crypto import security_policies

from citytwin.feeds import FeedRegistry
from citytwin.feeds.opcua import NodeMapping, OpcUaServer
from citytwin.settings import Settings
from citytwin.stream.batcher import Backoff
from citytwin.stream.opcua_values import NUMERIC, Value, as_reading
from citytwin.stream.source import Message, Sink, Source, register

log = logging.getLogger("citytwin.listen")

POLICIES = {"Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256}
MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
WATCHDOG_SECONDS = 1.0  # how often asyncua checks that the server still answers


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def value_of(data: ua.DataValue) -> Value:
    """An asyncua DataValue as a `Value`."""
    status = data.StatusCode or ua.StatusCode()
    variant = data.Value or ua.Variant()
    return Value(
        value=variant.Value,
        variant_type=variant.VariantType.name,
        status=status.name,
        good=not status.is_bad(),
        source_time=_utc(data.SourceTimestamp),
        server_time=_utc(data.ServerTimestamp),
    )


class OpcUaSource(Source):
    """One OPC UA server's mapped nodes of one feed."""

    kind = "opcua"
    delivers = "data changes of mapped nodes as canonical readings, timed by the source"

    def __init__(self, feed: str, server: OpcUaServer) -> None:
        super().__init__(server.name or f"opcua:{feed}:{server.endpoint}")
        self.feed = feed
        self.server = server
        self.watermarks: dict[str, datetime] = {}  # node address → newest stored source time
        self._sink: Sink | None = None
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._lost_at: datetime | None = None
        self._announced = False

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        self.status.state = "stopped"

    def ack(self, messages: Sequence[Message]) -> int:
        for message in messages:
            address, at = message.token
            if at > self.watermarks.get(address, at.min.replace(tzinfo=UTC)):
                self.watermarks[address] = at
        return super().ack(messages)

    # The connection, kept up with back-off until stopped.

    async def _run(self) -> None:
        backoff = Backoff(first=0.5, limit=30.0)
        while not self._stop.is_set():
            lost = asyncio.Event()
            client = await self._connected(lost)
            if client is not None:
                backoff.reset()
                try:
                    await self._serve(client, lost)
                except Exception as exc:  # a server answering nonsense: reconnect
                    self.status.fault("session", f"{type(exc).__name__}: {exc}")
                finally:
                    self._lost_at = datetime.now(UTC)
                    with contextlib.suppress(Exception):
                        await client.disconnect()
            self._announce()  # the first attempt is made, subscribed or not
            if self._stop.is_set():
                break
            self.status.state = "reconnecting"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff.next_delay())

    def _announce(self) -> None:
        if not self._announced and self._sink is not None:
            self._announced = True
            self._sink.ready_source(self)

    async def _connected(self, lost: asyncio.Event) -> Client | None:
        """A connected client, or None with the reason recorded as a fault."""
        client = Client(self.server.endpoint, watchdog_intervall=WATCHDOG_SECONDS)

        async def on_lost(exc: Exception) -> None:
            self.status.fault("disconnected", f"connection lost: {exc!r}")
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await self._secure(client)
            await client.connect()
        except Exception as exc:
            kind = "refused" if isinstance(exc, ua.UaError) else "unreachable"
            self.status.fault(kind, f"{self.server.endpoint}: {type(exc).__name__}: {exc}")
            self.status.detail = f"{kind}: {exc}"
            log.warning("OPC UA %s: %s (%s)", self.name, kind, exc)
            with contextlib.suppress(Exception):
                await client.disconnect()
            return None
        return client

    async def _secure(self, client: Client) -> None:
        security, user = self.server.security, self.server.user
        if security.mode != "None":
            await client.set_security(
                POLICIES[security.policy],
                str(security.certificate),
                str(security.private_key),
                server_certificate=(
                    str(security.server_certificate) if security.server_certificate else None
                ),
                mode=MODES[security.mode],
            )
        if user is not None:
            client.set_user(user.username)
            if user.password_env:
                client.set_password(os.environ.get(user.password_env, ""))

    async def _serve(self, client: Client, lost: asyncio.Event) -> None:
        nodes = await self._resolve(client)
        if self._lost_at is not None:
            await self._fill_gap(nodes, self._lost_at)
        settings = self.server.subscription
        parameters = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=settings.publishing_interval_ms,
            RequestedLifetimeCount=10_000,
            # asyncua's own choice (75 % of the session): liveness is the watchdog's job.
            RequestedMaxKeepAliveCount=client.get_keepalive_count(settings.publishing_interval_ms),
            Priority=0,
        )
        subscription = await client.create_subscription(parameters, _Handler(self, nodes))
        change = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue)
        if settings.deadband:
            change.DeadbandType = ua.DeadbandType.Absolute
            change.DeadbandValue = settings.deadband
        for node in nodes:
            await subscription._subscribe(  # the public helpers cannot set both filter and rate
                node,
                ua.AttributeIds.Value,
                change,
                settings.queue_size,
                ua.MonitoringMode.Reporting,
                settings.sampling_interval_ms,
            )
        self.status.state, self.status.detail = "connected", self.server.endpoint
        log.info("OPC UA %s: %d nodes subscribed", self.name, len(nodes))
        self._announce()
        stop = asyncio.create_task(self._stop.wait())
        gone = asyncio.create_task(lost.wait())
        await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        gone.cancel()

    async def _resolve(self, client: Client) -> dict[Node, NodeMapping]:
        """The mapped nodes that exist and hold numbers; the others recorded as faults."""
        found: dict[Node, NodeMapping] = {}
        for mapping in self.server.nodes:
            try:
                if mapping.node is not None:
                    node = client.get_node(mapping.node)
                    await node.read_node_class()  # BadNodeIdUnknown if it is not there
                else:
                    node = await client.nodes.root.get_child(mapping.browse_path or [])
                variant = await node.read_data_type_as_variant_type()
            except (ua.UaError, ValueError) as exc:
                self.status.fault("missing node", f"{mapping.address}: {exc}")
                continue
            if variant.name not in NUMERIC:
                self.status.fault("type", f"{mapping.address} holds {variant.name}, not a number")
                continue
            found[node] = mapping
        return found

    async def _fill_gap(self, nodes: dict[Node, NodeMapping], lost_at: datetime) -> None:
        """Read what changed while away, where the server keeps history; else record the gap."""
        now = datetime.now(UTC)
        for node, mapping in nodes.items():
            since = self.watermarks.get(mapping.address, lost_at)
            access = await node.read_attribute(ua.AttributeIds.AccessLevel)
            readable = ua.AccessLevel.HistoryRead in ua.AccessLevel.parse_bitfield(
                access.Value.Value
            )
            if not (self.server.history and readable):
                gap = f"{mapping.address}: no history, readings from {since:%Y-%m-%dT%H:%M:%SZ} "
                self.status.fault("gap", gap + f"to {now:%Y-%m-%dT%H:%M:%SZ} are missing")
                continue
            try:
                history = await node.read_raw_history(since, now)
            except ua.UaError as exc:
                self.status.fault("gap", f"{mapping.address}: HistoryRead failed: {exc}")
                continue
            for data in history:
                value = value_of(data)
                if value.source_time is None or value.source_time > since:
                    self.deliver(mapping, value, now)

    def deliver(self, mapping: NodeMapping, value: Value, received: datetime) -> None:
        """One value of a node to the listener (dead-lettered there if it is no reading)."""
        payload, refused = as_reading(mapping, value, received)
        if refused is not None:
            self.status.fault("bad value", refused)
        at = value.source_time or value.server_time or received
        self.status.received += 1
        assert self._sink is not None
        topic = f"opcua/{self.name}/{mapping.address}"
        self._sink.deliver(Message(self, topic, payload, self.feed, (mapping.address, at), refused))


class _Handler:
    """asyncua's callback object for one subscription."""

    def __init__(self, source: OpcUaSource, nodes: dict[Node, NodeMapping]) -> None:
        self.source, self.nodes = source, nodes

    def datachange_notification(self, node: Node, val: object, data: object) -> None:
        mapping = self.nodes.get(node)
        if mapping is not None:
            value = value_of(data.monitored_item.Value)
            self.source.deliver(mapping, value, datetime.now(UTC))

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        self.source.status.fault("subscription", f"status {status.Status.name}")


@register("opcua")
def opcua_sources(settings: Settings, feeds: FeedRegistry) -> list[Source]:
    """One source per OPC UA server declared by a feed."""
    return [OpcUaSource(name, server) for name in feeds for server in feeds[name].sources.opcua]
