"""The MQTT gateway's handling of one message, with the real ingest on a real SQLite log:
a message is acknowledged only after its records are durable, refused ones are
acknowledged and counted, and a log failure leaves the message unacknowledged.
(The broker side is in tests/integration/test_mqtt_gateway.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tagwatch.domain.people import Device
from tagwatch.gateways.mqtt import MqttGateway, MqttSettings, NotStored
from tagwatch.protocols.mqtt_payloads import CommandReply
from tagwatch.service.bootstrap import Services, bootstrap
from tagwatch.service.clock import FixedClock
from tagwatch.service.config import Config
from tagwatch.store import SecretHasher

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TST = int(NOW.timestamp()) - 30


class Paho:
    """Where the gateway sends its PUBACKs (paho's `ack`), with what the log held then."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.acks: list[tuple[int, int, int]] = []  # (mid, qos, records pending in the log)

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append((mid, qos, self.services.log.count_pending()))


class Client:
    def __init__(self, paho: Paho) -> None:
        self._client = paho


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    # The inbox in a file of its own, so closing it makes appends fail (in the store's file
    # it would write through the store's connection).
    config = Config(db_path=tmp_path / "t.db", log_url=f"sqlite:///{tmp_path / 'inbox.db'}")
    made = bootstrap(config, clock=FixedClock(NOW), hasher=SecretHasher.cheapest())
    made.store.devices.save_device(Device("jane:phone", protocol="owntracks"))
    try:
        yield made
    finally:
        made.close()


def handle(gateway: MqttGateway, paho: Paho, topic: str, payload: Any, mid: int) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    message = aiomqtt.Message(topic, raw, 1, False, mid, None)
    asyncio.run(gateway._handle(Client(paho), message))  # type: ignore[arg-type]


def location(tst: int) -> dict[str, Any]:
    return {"_type": "location", "lat": 51.75, "lon": -0.33, "tst": tst, "acc": 10, "batt": 50}


def test_a_message_is_acknowledged_after_its_records_are_in_the_log(services: Services) -> None:
    ingested: list[tuple[str, int]] = []
    gateway = MqttGateway(
        MqttSettings(),
        services.ingest,
        clock=services.clock,
        on_ingested=lambda protocol, n: ingested.append((protocol, n)),
    )
    paho = Paho(services)
    handle(gateway, paho, "owntracks/jane/phone", location(TST), mid=7)
    assert paho.acks == [(7, 1, 2)]  # the fix and the battery event were pending by then
    handle(gateway, paho, "owntracks/jane/phone", location(TST), mid=8)  # a redelivery
    assert services.log.count_pending() == 2  # kept once
    assert ingested == [("mqtt", 2), ("mqtt", 2)]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("owntracks/jane/phone", b"\xff\xfe", "payload is not JSON"),
        ("owntracks/jane/phone", {"_type": "location", "lat": 91, "lon": 0, "tst": TST}, None),
        ("owntracks/nobody/phone", location(TST), "unknown device"),
        ("elsewhere/x", location(TST), "not a tagwatch topic"),
    ],
)
def test_refused_messages_are_acknowledged_and_counted(
    services: Services, topic: str, payload: Any, reason: str | None
) -> None:
    gateway = MqttGateway(MqttSettings(), services.ingest, clock=services.clock)
    paho = Paho(services)
    handle(gateway, paho, topic, payload, mid=3)
    assert paho.acks == [(3, 1, 0)]
    rejects = gateway.metrics.rejects()
    assert sum(rejects.values()) == 1
    if reason is not None:
        assert reason in rejects
    if topic == "owntracks/nobody/phone":
        assert [seen.device_id for seen in services.ingest.unknown_devices()] == ["nobody:phone"]


def test_a_message_the_log_cannot_take_is_not_acknowledged(services: Services) -> None:
    gateway = MqttGateway(MqttSettings(), services.ingest, clock=services.clock)
    paho = Paho(services)
    services.log.close()
    with pytest.raises(NotStored):
        handle(gateway, paho, "owntracks/jane/phone", location(TST), mid=9)
    assert paho.acks == []


def test_a_tag_reply_goes_to_the_notifier_before_the_ack(services: Services) -> None:
    replies: list[CommandReply] = []

    def on_reply(reply: CommandReply) -> bool:
        replies.append(reply)
        return True

    gateway = MqttGateway(MqttSettings(), services.ingest, clock=services.clock, on_reply=on_reply)
    paho = Paho(services)
    handle(gateway, paho, "tagwatch/tags/t-1/reply", {"command_id": "c-1"}, mid=4)
    assert replies == [CommandReply("t-1", "c-1", True, "")]
    assert paho.acks == [(4, 1, 0)]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", ("127.0.0.1", 1883, None, None)),
        ("mqtt://gw:s%40cret@broker.example:8883", ("broker.example", 8883, "gw", "s@cret")),
    ],
)
def test_settings_come_from_the_url(url: str, expected: tuple[object, ...]) -> None:
    settings = MqttSettings.from_url(url, client_id="gw-2")
    assert (settings.host, settings.port, settings.username, settings.password) == expected
    assert settings.client_id == "gw-2"


@pytest.mark.parametrize("url", ["http://127.0.0.1", "mqtt://", "mqtt://host:99999"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="mqtt"):
        MqttSettings.from_url(url)


def test_an_unreachable_broker_is_retried_with_growing_pauses(services: Services) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = MqttSettings(port=port, reconnect_min_s=0.05, reconnect_max_s=0.4)
    gateway = MqttGateway(settings, services.ingest, clock=services.clock)

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(gateway.run())
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_for(1.2))
    # Pauses 0.05, 0.1, 0.2, 0.4, 0.4...: about five tries in 1.2 s, not hundreds.
    assert 2 <= gateway.sessions_tried <= 8
    assert not gateway.connected.is_set()
