"""The MQTT gateway: OwnTracks phones and tagwatch's own tags through a broker (Mosquitto).

    gateway = MqttGateway(MqttSettings.from_url("mqtt://127.0.0.1:1883"), ingest, clock=...)
    await gateway.run()                 # until cancelled; reconnects with backoff

Subscriptions, all QoS 1: `owntracks/+/+` (tagwatch.protocols.owntracks) and
`tagwatch/tags/+/up`, `tagwatch/tags/+/reply` (tagwatch.protocols.tagjson).

**Nothing acknowledged is lost.** The session is persistent (`clean_session` false under
a fixed client id), so the broker keeps our subscriptions and queues QoS 1 messages while
we are away. Each message is acknowledged (PUBACK) only after its records are durable in
the log (`Ingest.accept_batch` returned). aiomqtt 2.5 acknowledges on receipt and has no
manual-ack option yet (empicano/aiomqtt#345), so we switch its paho client to manual acks
before connecting and call paho's `ack` ourselves; that is the one private attribute we
touch. If the log cannot take a message we do not acknowledge it: we drop the connection
and reconnect after a backoff, and the broker sends every unacknowledged message again
(MQTT 3.1.1 redelivers on reconnect). Redelivered and retained messages are harmless:
records carry their idempotency keys (device, fix time), so the log and store keep one.

Steps for each message, each of which can refuse: **decode** (a rejected payload is logged
with its reason, counted, and acknowledged: sending it again cannot make it better; the
good records of a batch are kept), **admit** (an unknown device is refused, remembered
in the unknown-device registry, and acknowledged: holding its messages would stall the
broker's in-flight window for every other device), **append** (durable), then **ack**.
The messages already waiting when one is taken (up to `max_batch`, in practice the
broker's in-flight window) go through together: one log append, one fsync, for all of
them (`Ingest.accept_admitted`), then each is acknowledged.

Replies of tags to commands go to `on_reply` (the notifier) before the ack.
`publish` sends commands (QoS 1, returns once the broker acknowledged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import aiomqtt

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.gateways.metrics import GatewayMetrics, ProtocolMetrics
from tagwatch.protocols import owntracks, tagjson
from tagwatch.protocols.mqtt_payloads import CommandReply, DeviceMessage, MessageRejected
from tagwatch.service.clock import Clock
from tagwatch.service.ingest import DeviceBatch, Ingest, UnknownDevice
from tagwatch.service.notify import CommandFailed, Delivered

logger = logging.getLogger(__name__)

PROTOCOL = "mqtt"
DEFAULT_PORT = 1883
DEFAULT_CLIENT_ID = "tagwatch-gateway"
SUBSCRIPTIONS = (owntracks.SUBSCRIPTION, *tagjson.SUBSCRIPTIONS)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None
    # The persistent session's name: the broker queues messages for it while we are away.
    # Give each gateway process its own (two processes sharing one id take turns).
    client_id: str = DEFAULT_CLIENT_ID
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    publish_timeout_s: float = 10.0
    max_batch: int = 500  # messages stored with one log append

    @classmethod
    def from_url(cls, url: str, *, client_id: str | None = None) -> MqttSettings:
        """`mqtt://[user[:password]@]host[:port]` (TAGWATCH_MQTT_URL)."""
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"expected mqtt://host[:port], not {url!r}")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise ValueError(f"bad port in {url!r}") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            client_id=client_id or DEFAULT_CLIENT_ID,
        )


class NotStored(Exception):  # noqa: N818 - the reason a message stays unacknowledged
    pass


def decode(topic: str, payload: bytes, received_at: datetime) -> tuple[str, DeviceMessage]:
    """(codec, message) for any subscribed topic; MessageRejected otherwise."""
    if topic.startswith(owntracks.TOPIC_ROOT + "/"):
        return "owntracks", owntracks.decode(topic, payload, received_at)
    if topic.startswith(tagjson.TOPIC_ROOT + "/"):
        message = tagjson.decode(topic, payload, received_at)
        return ("reply" if message.replies else "tagjson"), message
    raise MessageRejected(f"not a tagwatch topic: {topic[:60]!r}")


class MqttGateway:
    def __init__(
        self,
        settings: MqttSettings,
        ingest: Ingest,
        *,
        clock: Clock,
        metrics: GatewayMetrics | None = None,
        on_reply: Callable[[CommandReply], bool] | None = None,
        on_ingested: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._ingest = ingest
        self._clock = clock
        self.metrics: ProtocolMetrics = (metrics or GatewayMetrics()).protocol(PROTOCOL)
        self._on_reply = on_reply
        self._on_ingested = on_ingested
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.messages_handled = 0
        self.sessions_tried = 0  # connection attempts, for tests and logs

    # -- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and handle messages until cancelled; reconnect with backoff."""
        delay = self.settings.reconnect_min_s
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except aiomqtt.MqttError as error:
                logger.warning("MQTT broker %s: %s", self._where(), error)
            except NotStored as error:
                logger.error("MQTT message not stored, reconnecting to have it again: %s", error)
            if time.monotonic() - started > self.settings.reconnect_max_s:
                delay = self.settings.reconnect_min_s  # it had been up a while: start afresh
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def _session(self) -> None:
        self.sessions_tried += 1
        client = aiomqtt.Client(
            self.settings.host,
            self.settings.port,
            username=self.settings.username,
            password=self.settings.password,
            identifier=self.settings.client_id,
            clean_session=False,
            keepalive=self.settings.keepalive_s,
            timeout=self.settings.publish_timeout_s,
        )
        # Before connecting: the broker sends the session's queued messages at once.
        client._client.manual_ack_set(True)  # private: see the docstring
        async with client:
            for topic in SUBSCRIPTIONS:
                await client.subscribe(topic, qos=1)
            self._client = client
            self.connected.set()
            self.metrics.connection_opened()
            logger.info("MQTT gateway subscribed at %s as %s", self._where(), client.identifier)
            try:
                messages = client.messages
                while True:
                    batch = [await anext(messages)]
                    while len(messages) and len(batch) < self.settings.max_batch:
                        batch.append(await anext(messages))  # already queued: no wait
                    await self._handle_batch(client, batch)
            finally:
                self._client = None
                self.connected.clear()
                self.metrics.connection_closed()

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- messages ------------------------------------------------------------------------

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        await self._handle_batch(client, [message])

    async def _handle_batch(self, client: aiomqtt.Client, batch: list[aiomqtt.Message]) -> None:
        """Store the records of every message of `batch` in one log append, then ack each.

        The messages already waiting are taken together, so one fsync serves them all
        under load; NotStored (nothing acknowledged) if the log could not take them."""
        started = time.monotonic()
        decoded = [self._decode(message) for message in batch]
        for each in decoded:
            for reply in () if each is None else each.replies:
                await self._reply(reply)
        stored = await asyncio.to_thread(self._store, decoded)
        latency = time.monotonic() - started
        for message, records in zip(batch, stored, strict=True):
            # Durable (or refused for good): now the broker may forget it.
            client._client.ack(message.mid, message.qos)  # private: manual acks
            self.messages_handled += 1
            self.metrics.acknowledged(records, latency)

    def _decode(self, message: aiomqtt.Message) -> DeviceMessage | None:
        """The decoded message, or None if it was rejected (logged and counted)."""
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            codec, decoded = decode(topic, payload, self._clock.now())
        except MessageRejected as refusal:
            logger.warning("MQTT message on %r rejected: %s", topic[:80], refusal.reason)
            self.metrics.rejected(_reason_class(refusal.reason))
            return None
        self.metrics.frame(codec)
        if decoded.skipped is not None:
            logger.debug("MQTT message on %r skipped: %s", topic[:80], decoded.skipped)
            return None
        for reason in decoded.rejected:
            logger.warning("MQTT record of %s rejected: %s", decoded.device_id, reason)
            self.metrics.rejected(_reason_class(reason.partition(": ")[2]))
        return decoded

    def _store(self, messages: list[DeviceMessage | None]) -> list[int]:
        """In a worker thread: admit each message's device, append every admitted record in
        one durable log append; the records stored per message. NotStored on failure."""
        now = self._clock.now()
        admitted: dict[str, bool] = {}
        batches: list[DeviceBatch] = []
        counts: list[int] = []
        for message in messages:
            if message is None or not (message.fixes or message.events):
                counts.append(0)
                continue
            device_id = message.device_id
            if device_id not in admitted:
                try:
                    self._ingest.check_device(device_id, now)
                    admitted[device_id] = True
                except UnknownDevice:
                    logger.info("MQTT records of unknown device %r refused", device_id)
                    self.metrics.rejected("unknown device")
                    admitted[device_id] = False
                except Exception as error:  # the store failed: keep them unacknowledged
                    raise NotStored(f"{device_id}: {error}") from error
            if not admitted[device_id]:
                counts.append(0)
                continue
            batches.append((device_id, message.fixes, message.events))
            counts.append(len(message.fixes) + len(message.events))
        if batches:
            try:
                self._ingest.accept_admitted(batches)
            except Exception as error:  # the log failed: keep them unacknowledged
                raise NotStored(f"{len(batches)} messages: {error}") from error
            if self._on_ingested is not None:
                self._on_ingested(PROTOCOL, sum(counts))
        return counts

    async def _reply(self, reply: CommandReply) -> None:
        if self._on_reply is None:
            return
        try:
            known = await asyncio.to_thread(self._on_reply, reply)
        except Exception as error:
            raise NotStored(f"reply of {reply.device_id}: {error}") from error
        if not known:
            logger.info("reply of %s names no open command: %r", reply.device_id, reply.command_id)

    # -- commands ------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1; returns once the broker has it. CommandFailed if not connected."""
        client = self._client
        if client is None:
            raise CommandFailed(f"not connected to the MQTT broker at {self._where()}")
        try:
            await client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError as error:
            raise CommandFailed(f"MQTT publish failed: {error}") from error


class TagCommandChannel:
    """Commands for tagwatch tags: `tagwatch/tags/<id>/cmd`; the tag answers on `reply`."""

    def __init__(self, gateway: MqttGateway) -> None:
        self._gateway = gateway

    async def deliver(self, command: DeviceCommand) -> Delivered:
        payload = tagjson.command_payload(command.id, command.text, alert_id=command.alert_id)
        await self._gateway.publish(tagjson.command_topic(command.device_id), payload)
        return Delivered(CommandState.SENT)


class OwnTracksCommandChannel:
    """An OwnTracks `action` command on `owntracks/<user>/<device>/cmd` (never answered)."""

    def __init__(self, gateway: MqttGateway) -> None:
        self._gateway = gateway

    async def deliver(self, command: DeviceCommand) -> Delivered:
        try:
            topic = owntracks.command_topic(command.device_id)
        except ValueError as error:
            raise CommandFailed(str(error), retry=False) from None
        await self._gateway.publish(topic, owntracks.command_payload(command.text))
        return Delivered(CommandState.SENT)


def _reason_class(reason: str) -> str:
    """A bounded metrics label: the reason without the value it quotes."""
    return reason.partition(":")[0][:60] or "rejected"
