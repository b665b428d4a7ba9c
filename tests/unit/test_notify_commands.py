"""Wearer notification: which alerts queue a command, delivery with retries and backoff,
replies, expiry, and two notifiers never sending one attempt twice. On a real SQLite store;
the channels are stand-ins for the transports (the MQTT one is exercised for real in
tests/integration/test_mqtt_gateway.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.commands import (
    CommandState,
    DeviceCommand,
    IllegalCommandTransition,
)
from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import Device
from tagwatch.protocols.mqtt_payloads import CommandReply
from tagwatch.service.bus import Bus
from tagwatch.service.clock import FixedClock
from tagwatch.service.notify import (
    TEXTS,
    CommandFailed,
    Delivered,
    Notifier,
    NotifySettings,
    TeltonikaChannel,
)
from tagwatch.store import SecretHasher
from tagwatch.store.errors import ConflictError
from tagwatch.store.records import Alert, AlertDraft, AlertSeverity, AlertState
from tagwatch.store.sqlite.store import SqliteStore

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
S = CommandState


class Channel:
    """A transport that does what the test says: answer, or fail a number of times."""

    def __init__(self, result: Delivered | None = None, failures: int = 0) -> None:
        self.result = result or Delivered(S.SENT)
        self.failures = failures
        self.sent: list[DeviceCommand] = []

    async def deliver(self, command: DeviceCommand) -> Delivered:
        self.sent.append(command)
        if self.failures:
            self.failures -= 1
            raise CommandFailed("broker not connected")
        return self.result


class Codec12Gateway:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []

    async def send_command(self, device_id: str, text: str, *, timeout_s: float) -> str:
        self.calls.append((device_id, text, timeout_s))
        return "Text shown"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest()) as opened:
        opened.devices.save_device(Device("tag-1", protocol="mqtt"))
        opened.devices.save_device(Device("jane:phone", protocol="owntracks"))
        opened.devices.save_device(Device("app-1", protocol="osmand"))
        opened.devices.save_device(Device("imei-1", protocol="teltonika"))
        yield opened


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def raise_alert(
    store: SqliteStore,
    device_id: str = "tag-1",
    *,
    rule: RuleKind = RuleKind.EXCLUSION,
    key: str = "",
    late: bool = False,
    at: datetime = T0,
) -> Alert:
    episode = key or f"{device_id}/{rule.value}/zone-1/{at.isoformat()}"
    draft = AlertDraft(episode, "s-1", device_id, rule, "zone-1", AlertSeverity.HIGH, at, at, late)
    alert = store.alerts.upsert_alert_for_episode(draft, now=at).alert
    store.alert_history.append_alert_action(
        alert.id, action="raised", at=at, actor="monitor", to_state=AlertState.NEW
    )
    return alert


def notifier(store: SqliteStore, clock: FixedClock, **channels: object) -> Notifier:
    settings = NotifySettings(first_retry_s=5, max_retry_s=60, max_attempts=3, expire_s=600)
    return Notifier(store, clock, channels, settings)  # type: ignore[arg-type]


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_a_breach_of_an_mqtt_tag_queues_one_command_with_the_breach_text(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)
    assert notifier(store, clock).queue_new() == 1
    (command,) = store.commands.commands_for_alert(alert.id)
    assert command.state is S.QUEUED
    assert (command.device_id, command.channel) == ("tag-1", "mqtt")
    assert command.text == TEXTS[RuleKind.EXCLUSION]
    assert command.next_attempt_at == T0
    assert command.expires_at == T0 + timedelta(seconds=600)


def test_an_approach_warning_tells_the_wearer_to_turn_back(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store, key=f"tag-1/approach/zone-1/{T0.isoformat()}")
    notifier(store, clock).queue_new()
    (command,) = store.commands.commands_for_alert(alert.id)
    assert "approaching an exclusion zone" in command.text


def test_reading_the_feed_again_queues_nothing_twice(store: SqliteStore, clock: FixedClock) -> None:
    alert = raise_alert(store)
    notifier(store, clock).queue_new()
    store.commands.set_feed_cursor("notifier", 0)  # as after a crash before the cursor moved
    assert notifier(store, clock).queue_new() == 0
    assert len(store.commands.commands_for_alert(alert.id)) == 1


@pytest.mark.parametrize(
    ("device_id", "rule", "late", "age_s"),
    [
        ("app-1", RuleKind.EXCLUSION, False, 0),  # OsmAnd apps cannot be sent anything
        ("tag-1", RuleKind.LOW_BATTERY, False, 0),  # not a zone or curfew breach
        ("tag-1", RuleKind.EXCLUSION, True, 0),  # found from late data: the past
        ("tag-1", RuleKind.EXCLUSION, False, 3600),  # raised an hour before we looked
        ("unregistered", RuleKind.EXCLUSION, False, 0),
    ],
)
def test_alerts_the_wearer_cannot_act_on_queue_nothing(
    store: SqliteStore,
    clock: FixedClock,
    device_id: str,
    rule: RuleKind,
    late: bool,
    age_s: int,
) -> None:
    alert = raise_alert(store, device_id, rule=rule, late=late)
    clock.set(T0 + timedelta(seconds=age_s))
    assert notifier(store, clock).queue_new() == 0
    assert store.commands.commands_for_alert(alert.id) == []
    assert store.commands.feed_cursor("notifier") > 0  # read past it all the same


def test_a_delivered_mqtt_command_is_sent_then_delivered_by_the_tags_reply(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)
    channel = Channel()
    service = notifier(store, clock, mqtt=channel)
    service.queue_new()
    assert run(service.deliver_due()) == 1
    (command,) = store.commands.commands_for_alert(alert.id)
    assert (command.state, command.attempts, command.sent_at) == (S.SENT, 1, T0)
    assert [sent.id for sent in channel.sent] == [command.id]

    clock.set(T0 + timedelta(seconds=3))
    assert not service.record_reply(CommandReply("other-tag", command.id, True))
    assert service.record_reply(CommandReply("tag-1", command.id, True, "shown"))
    (command,) = store.commands.commands_for_alert(alert.id)
    assert command.state is S.DELIVERED
    assert command.reply == "shown"
    assert command.delivered_at == T0 + timedelta(seconds=3)
    assert not service.record_reply(CommandReply("tag-1", command.id, True))  # finished
    assert service.outcomes() == {("mqtt", "sent"): 1, ("mqtt", "replied"): 1}


def test_failed_attempts_are_retried_with_doubling_backoff_then_fail(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)
    channel = Channel(failures=10)
    service = notifier(store, clock, mqtt=channel)
    service.queue_new()
    expected_next = [T0 + timedelta(seconds=5), T0 + timedelta(seconds=5 + 10)]
    for attempt, due in enumerate(expected_next, start=1):
        run(service.deliver_due())
        (command,) = store.commands.commands_for_alert(alert.id)
        assert (command.state, command.attempts) == (S.QUEUED, attempt)
        assert command.next_attempt_at == due
        assert command.last_error == "broker not connected"
        clock.set(due - timedelta(seconds=1))
        assert run(service.deliver_due()) == 0  # not due yet
        clock.set(due)
    run(service.deliver_due())
    (command,) = store.commands.commands_for_alert(alert.id)
    assert (command.state, command.attempts, command.next_attempt_at) == (S.FAILED, 3, None)
    assert len(channel.sent) == 3


def test_a_command_without_a_channel_in_this_process_fails_after_its_attempts(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)
    service = notifier(store, clock)
    service.queue_new()
    for _ in range(3):
        run(service.deliver_due())
        clock.set(clock.now() + timedelta(minutes=2))
    (command,) = store.commands.commands_for_alert(alert.id)
    assert command.state is S.FAILED
    assert "no mqtt channel" in command.last_error


def test_codec12_commands_are_delivered_with_the_devices_reply(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store, "imei-1")
    gateway = Codec12Gateway()
    service = notifier(store, clock, teltonika=TeltonikaChannel(gateway, timeout_s=7))
    service.queue_new()
    run(service.deliver_due())
    (command,) = store.commands.commands_for_alert(alert.id)
    assert (command.state, command.reply, command.delivered_at) == (S.DELIVERED, "Text shown", T0)
    assert gateway.calls == [("imei-1", TEXTS[RuleKind.EXCLUSION], 7)]


def test_expiry_fails_unanswered_commands_but_owntracks_stays_sent(
    store: SqliteStore, clock: FixedClock
) -> None:
    tag_alert = raise_alert(store, "tag-1")
    phone_alert = raise_alert(store, "jane:phone")
    queued_alert = raise_alert(store, "tag-1", rule=RuleKind.CURFEW)
    service = notifier(store, clock, mqtt=Channel(), owntracks=Channel())
    assert service.queue_new() == 3
    for command in store.commands.due_commands(T0):
        if command.alert_id != queued_alert.id:
            run(service._attempt(service._claim(command)))  # type: ignore[arg-type]
    clock.set(T0 + timedelta(seconds=599))
    assert service.expire() == 0
    clock.set(T0 + timedelta(seconds=600))
    assert service.expire() == 2
    states = {
        alert.id: store.commands.commands_for_alert(alert.id)[0]
        for alert in (tag_alert, phone_alert, queued_alert)
    }
    assert states[tag_alert.id].state is S.FAILED
    assert "no answer" in states[tag_alert.id].last_error
    assert states[phone_alert.id].state is S.SENT
    assert states[queued_alert.id].state is S.FAILED
    assert "expired" in states[queued_alert.id].last_error


def test_two_notifiers_never_claim_the_same_attempt(store: SqliteStore, clock: FixedClock) -> None:
    raise_alert(store)
    first, second = notifier(store, clock), notifier(store, clock)
    first.queue_new()
    (due,) = store.commands.due_commands(T0)
    assert first._claim(due) is not None
    assert second._claim(due) is None  # it read the command before the first claimed it
    assert store.commands.due_commands(T0) == []  # leased until the attempt times out


def test_replace_command_refuses_a_stale_version(store: SqliteStore, clock: FixedClock) -> None:
    raise_alert(store)
    notifier(store, clock).queue_new()
    (command,) = store.commands.due_commands(T0)
    sent = command.moved(S.SENT, T0, sent_at=T0)
    store.commands.replace_command(command, sent)
    with pytest.raises(ConflictError):
        store.commands.replace_command(command, command.moved(S.FAILED, T0))
    assert store.commands.get_command(command.id) == sent


@pytest.mark.parametrize(
    ("start", "to"),
    [(S.SENT, S.QUEUED), (S.DELIVERED, S.FAILED), (S.FAILED, S.QUEUED), (S.DELIVERED, S.SENT)],
)
def test_finished_and_sent_commands_cannot_go_back(start: CommandState, to: CommandState) -> None:
    command = DeviceCommand("c", "tag-1", "mqtt", "x", start, T0, T0, T0 + timedelta(minutes=5))
    with pytest.raises(IllegalCommandTransition):
        command.moved(to, T0)


def test_each_state_change_is_published_on_the_live_feed(
    store: SqliteStore, clock: FixedClock
) -> None:
    alert = raise_alert(store)

    async def scenario() -> dict[str, object]:
        bus = Bus()
        async with bus.subscribe() as feed:
            service = Notifier(store, clock, {"mqtt": Channel()}, NotifySettings(), bus=bus)
            service.queue_new()
            await service.deliver_due()
            return await asyncio.wait_for(feed.get(), timeout=5)

    message = asyncio.run(scenario())
    assert message["type"] == "notification"
    shown = message["notification"]
    assert isinstance(shown, dict)
    assert (shown["alert_id"], shown["state"], shown["channel"]) == (alert.id, "sent", "mqtt")
