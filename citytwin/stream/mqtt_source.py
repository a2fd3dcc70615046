"""The MQTT source: the broker's topics (`CITYTWIN_MQTT_*`) through a paho session."""

import asyncio
from collections.abc import Sequence

from citytwin.feeds import FeedRegistry
from citytwin.settings import Settings
from citytwin.stream.mqtt import Handlers, Received, Session, broker_of
from citytwin.stream.source import Message, Sink, Source, register
from citytwin.stream.topics import feed_of, subscriptions


class MqttSource(Source):
    """MQTT 5 with QoS 1: acknowledged after commit; the broker keeps what is not."""

    kind = "mqtt"
    delivers = "canonical JSON readings, NGSI-LD entities, SensorThings Observations"

    def __init__(self, settings: Settings, feeds: FeedRegistry) -> None:
        super().__init__("mqtt")
        self.settings = settings
        self.broker = broker_of(settings.streams.mqtt_url)
        self.subscribed = subscriptions(settings.streams.mqtt_topics, feeds)
        self.session: Session | None = None
        self._sink: Sink | None = None

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        handlers = Handlers(self._received, self._reconnected, lambda: self._subscribed(sink))
        self.session = Session(
            self.broker,
            self.settings.streams.mqtt_client_id,
            list(self.subscribed),
            self.settings.streams.mqtt_max_held,
            asyncio.get_running_loop(),
            handlers,
            self.settings.streams.mqtt_max_held_bytes,
        )
        self.session.start()

    def _subscribed(self, sink: Sink) -> None:
        self.status.state = "connected"
        self.status.detail = f"{self.broker.host}:{self.broker.port}"
        sink.ready_source(self)

    def _received(self, received: Received) -> None:
        self.status.received += 1
        feed = feed_of(received.topic, self.subscribed)
        assert self._sink is not None
        self._sink.deliver(Message(self, received.topic, received.payload, feed, received))

    def _reconnected(self, generation: int, session_present: bool) -> None:
        """Back on our kept session, the broker sends what we did not acknowledge again: drop
        the copies not being stored yet. A lost session sends nothing again: keep them."""
        if session_present and self.session is not None and self._sink is not None:
            dropped = self._sink.withdraw(
                lambda m: m.origin is self and m.token.generation < generation
            )
            if dropped:
                self.status.fault("redelivery", f"{len(dropped)} held messages will come again")
                self.session.release([m.token for m in dropped])

    def stop_reading(self) -> None:
        if self.session is not None:
            self.session.stop_reading()

    async def stop(self) -> None:
        if self.session is not None:
            self.session.close()
        self.status.state = "stopped"

    def ack(self, messages: Sequence[Message]) -> int:
        if self.session is None:
            return 0
        acked = self.session.ack([m.token for m in messages])
        self.status.acked += acked
        return acked

    def release(self, messages: Sequence[Message]) -> None:
        if self.session is not None:
            self.session.release([m.token for m in messages])

    @property
    def held(self) -> int:
        return self.session.held if self.session is not None else 0


@register("mqtt")
def mqtt_sources(settings: Settings, feeds: FeedRegistry) -> list[Source]:
    """The broker of the settings (one session)."""
    return [MqttSource(settings, feeds)]
