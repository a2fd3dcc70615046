"""The MQTT side of `citytwin listen`: a paho-mqtt session that acknowledges only on request.

The session is MQTT 5 with a fixed client id, `clean_start` off and a long session expiry, so the
broker keeps what we have not acknowledged while we are away and sends it again when we are back;
its Receive Maximum is `mqtt_max_held`, so the broker never has more than that many messages out
to us unacknowledged. paho's network thread reconnects with exponential back-off and hands each
message to the asyncio loop; `ack` (from the loop) acknowledges only messages that came on the
connection still open, because a reconnect makes the broker send the others again.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage, MQTTv5
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from citytwin.errors import InvalidParameter

log = logging.getLogger("citytwin.listen")

SESSION_EXPIRY = 7 * 86_400  # seconds the broker keeps our session and its messages while away
KEEPALIVE = 30
BROKER_RETRY = (1, 30)  # paho's reconnect back-off: 1 s doubling up to 30 s
BOUND_NOTE_EVERY = 60.0  # at a steady bound (catching up) every batch refills it: say it seldom


@dataclass(frozen=True)
class Broker:
    """Where the broker is, from `mqtt_url`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def broker_of(url: str) -> Broker:
    """`mqtt://[user:pass@]host[:port]` (or `mqtts://` for TLS) as a `Broker`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise InvalidParameter("mqtt_url", f"{url!r} is not mqtt://host:port or mqtts://host:port")
    tls = parts.scheme == "mqtts"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return Broker(parts.hostname, parts.port or (8883 if tls else 1883), tls, username, password)


@dataclass(frozen=True)
class Received:
    """One message as received, with the connection (generation) it came on."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


@dataclass
class Handlers:
    """What the session calls on the asyncio loop."""

    received: Callable[[Received], None]
    reconnected: Callable[[int, bool], None]  # (generation, whether the broker kept our session)
    subscribed: Callable[[], None]


class Session:
    """One MQTT client subscribed to `topics` with QoS 1; messages go to `handlers` on `loop`."""

    def __init__(
        self,
        broker: Broker,
        client_id: str,
        topics: list[str],
        max_held: int,
        loop: asyncio.AbstractEventLoop,
        handlers: Handlers,
        max_held_bytes: int,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.topics = topics
        self.max_held = max_held
        self.max_held_bytes = max_held_bytes
        self.loop = loop
        self.handlers = handlers
        self.client = self._client()
        # Shared by the network thread and the loop: the connection's generation, and the
        # count of messages held (received, not yet acknowledged or released).
        self._lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._room = threading.Condition()
        self._held = 0
        self._held_bytes = 0
        self._bound_noted_at: float | None = None
        self._reading = True
        self._unreachable = False  # said once per outage

    @property
    def held(self) -> int:
        """Messages received and not yet released."""
        return self._held

    def start(self) -> None:
        """Connect in the background (retrying with back-off) and start receiving."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY
        properties.ReceiveMaximum = self.max_held
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=KEEPALIVE,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def stop_reading(self) -> None:
        """Take no more messages (those arriving stay unacknowledged: the broker keeps them)."""
        with self._room:
            self._reading = False
            self._room.notify_all()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.stop_reading()
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, messages: list[Received]) -> int:
        """Acknowledge stored messages that came on the open connection; how many were."""
        acked = 0
        with self._lock:
            if self._connected:
                for message in messages:
                    if message.qos and message.generation == self._generation:
                        self.client.ack(message.mid, message.qos)
                        acked += 1
        return acked

    def release(self, messages: list[Received]) -> None:
        """Make room again: `messages` were acknowledged, or are left to the broker."""
        with self._room:
            self._held -= len(messages)
            self._held_bytes -= sum(len(message.payload) for message in messages)
            self._room.notify_all()

    def _client(self) -> Client:
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTv5,
            manual_ack=True,
        )
        client.reconnect_delay_set(*BROKER_RETRY)
        if self.broker.tls:
            client.tls_set()
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _call(self, callback: Callable, *args: object) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(callback, *args)

    # The callbacks below run on paho's network thread.

    def _on_pre_connect(self, client: Client, userdata: object) -> None:
        with self._lock:
            self._generation += 1
            self._connected = False

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker %s:%d refused us: %s", self.broker.host, self.broker.port, reason)
            return
        with self._lock:
            self._connected = True
            generation = self._generation
        self._unreachable = False
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self.topics])
        self._call(self.handlers.reconnected, generation, flags.session_present)

    def _on_connect_fail(self, client: Client, userdata: object) -> None:
        if not self._unreachable:
            self._unreachable = True
            log.warning(
                "cannot reach the broker at %s:%d: retrying with back-off (up to %d s)",
                self.broker.host,
                self.broker.port,
                BROKER_RETRY[1],
            )

    def _on_subscribe(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [f"{t}: {r}" for t, r in zip(self.topics, reasons, strict=False) if r.is_failure]
        if refused:
            log.error("broker refused subscriptions: %s", "; ".join(refused))
            return
        log.info(
            "listening on mqtt://%s:%d to %s as %s",
            self.broker.host,
            self.broker.port,
            ", ".join(self.topics),
            self.client_id,
        )
        self._call(self.handlers.subscribed)

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._generation += 1
            self._connected = False
        if self._reading:
            log.warning("broker connection lost (%s): reconnecting with back-off", reason)

    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        with self._room:
            # The broker honours our Receive Maximum for QoS 1; this gate also holds back QoS 0
            # and any broker that does not: not reading leaves the messages with the broker.
            while self._full() and self._reading:
                self._note_bound()
                self._room.wait(1.0)
            if not self._reading:
                return  # not acknowledged: the broker sends it again next time
            self._held += 1
            self._held_bytes += len(message.payload)
            if self._full():
                self._note_bound()
        try:
            topic = message.topic
        except UnicodeDecodeError:  # kept as a dead letter: such a topic names no feed
            topic = message._topic.decode(errors="replace")
        received = Received(topic, message.payload, message.mid, message.qos, self._generation)
        self._call(self.handlers.received, received)

    def _full(self) -> bool:
        return self._held >= self.max_held or self._held_bytes >= self.max_held_bytes

    def _note_bound(self) -> None:
        now = time.monotonic()
        if self._bound_noted_at is None or now - self._bound_noted_at >= BOUND_NOTE_EVERY:
            self._bound_noted_at = now
            log.warning(
                "holding %d unacknowledged messages, %.1f MiB (at most CITYTWIN_MQTT_MAX_HELD, "
                "%.1f MiB): taking no more until they are stored; the broker keeps the rest",
                self._held,
                self._held_bytes / (1 << 20),
                self.max_held_bytes / (1 << 20),
            )
