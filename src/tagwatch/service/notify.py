"""Wearer notification: tell the tag when the engine raises an approach warning or a breach.

    notifier = Notifier(store, clock, channels={"mqtt": ..., "teltonika": ...})
    await notifier.run(stop)          # in the server's event loop

Two steps, both durable:

1. **queue** (`queue_new`): tail the alert history (`alert_actions_after`, from the cursor
   stored under `FEED`) and, for each alert the monitor "raised" that the wearer should
   hear about, add one `DeviceCommand` (state queued) to the store, in the same
   transaction as the cursor's advance. A crash re-reads the same actions; the store keeps
   one command per alert, so nothing is queued twice and nothing is missed. The monitor is
   not touched: the alert history is already its outbox.
2. **deliver** (`deliver_due`): commands whose next attempt is due are claimed (an
   optimistic write, so two processes never both send one attempt) and handed to the
   `CommandChannel` of their channel. A failure is retried after a backoff
   (`first_retry_s` doubling up to `max_retry_s`) until `max_attempts`; a command not
   finished by `expires_at` fails, as a warning shown much later would mislead.

Which alerts: approach warnings (tagwatch.service.alerts.is_approach) and exclusion,
inclusion and curfew violations, not found from late data (the wearer cannot act on the
past) and raised at most `fresh_s` ago (a first start on an old database stays quiet).
Which devices: those whose protocol has a channel (`CHANNEL_OF_PROTOCOL`); an OsmAnd app
cannot be sent anything.

Each change of a command's state is published on the live feed (when given a `bus`) as
`{"type": "notification", "notification": {...}}` (`notification_json`).

Replies: a tag's answer (`record_reply`, called by the MQTT gateway; a Codec 12 reply
comes back from the channel itself) moves the command to delivered or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.domain.episodes import RuleKind
from tagwatch.protocols.mqtt_payloads import CommandReply
from tagwatch.service.alerts import is_approach
from tagwatch.service.bus import Bus
from tagwatch.service.clock import Clock
from tagwatch.store.contract import Store
from tagwatch.store.errors import ConflictError
from tagwatch.store.records import Alert

logger = logging.getLogger(__name__)

FEED = "notifier"
RAISED = "raised"
CHANNEL_OF_PROTOCOL = {"teltonika": "teltonika", "mqtt": "mqtt", "owntracks": "owntracks"}
# Channels whose devices answer: a command they took but never answered fails at expiry.
ANSWERING = frozenset({"mqtt", "teltonika"})
TEXTS = {
    "approach": "tagwatch: you are approaching an exclusion zone - turn back now.",
    RuleKind.EXCLUSION: "tagwatch: you are inside an exclusion zone - leave it now.",
    RuleKind.INCLUSION: "tagwatch: you are outside your inclusion zone - return now.",
    RuleKind.CURFEW: "tagwatch: you are breaking your curfew - return to your curfew address.",
}


@dataclass(frozen=True, slots=True)
class NotifySettings:
    poll_s: float = 0.5  # how often the alert feed and the due commands are read
    max_attempts: int = 5
    first_retry_s: float = 5.0
    max_retry_s: float = 120.0
    attempt_timeout_s: float = 30.0  # one delivery attempt, e.g. a Codec 12 round trip
    expire_s: float = 900.0  # a command not finished this long after it was queued fails
    fresh_s: float = 600.0  # alerts raised longer ago than this are not told to the wearer
    batch: int = 100

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.poll_s <= 0 or self.first_retry_s <= 0:
            raise ValueError("notifier settings must be positive")

    def backoff(self, attempts: int) -> timedelta:
        """The pause after the `attempts`-th failed attempt."""
        seconds = self.first_retry_s * 2 ** min(attempts - 1, 30)
        return timedelta(seconds=min(seconds, self.max_retry_s))


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a channel did with a command: `SENT` (the transport has it) or `DELIVERED`
    (the device answered, with `reply`)."""

    state: CommandState
    reply: str = ""


class CommandFailed(Exception):  # noqa: N818 - a channel's verdict
    """The channel could not deliver; `retry` False means trying again cannot help."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class CommandChannel(Protocol):
    async def deliver(self, command: DeviceCommand) -> Delivered:
        """Deliver one command; CommandFailed (or any error) if it could not."""
        ...


class CommandSender(Protocol):
    """What the Teltonika gateway offers: a Codec 12 command to a connected device."""

    async def send_command(self, device_id: str, text: str, *, timeout_s: float) -> str: ...


class TeltonikaChannel:
    """Codec 12 over the device's open TCP connection; the device's reply is the answer."""

    def __init__(self, gateway: CommandSender, *, timeout_s: float = 20.0) -> None:
        self._gateway = gateway
        self._timeout_s = timeout_s

    async def deliver(self, command: DeviceCommand) -> Delivered:
        reply = await self._gateway.send_command(
            command.device_id, command.text, timeout_s=self._timeout_s
        )
        return Delivered(CommandState.DELIVERED, reply)


def wearer_text(alert: Alert) -> str | None:
    """What the wearer is told about `alert`, or None if the alert is not for them."""
    if is_approach(alert):
        return TEXTS["approach"]
    return TEXTS.get(alert.rule)


class Notifier:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        channels: Mapping[str, CommandChannel],
        settings: NotifySettings | None = None,
        *,
        bus: Bus | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._channels = dict(channels)
        self.settings = settings if settings is not None else NotifySettings()
        self._lock = threading.Lock()
        self._outcomes: Counter[tuple[str, str]] = Counter()  # (channel, outcome)

    def add_channel(self, name: str, channel: CommandChannel) -> None:
        self._channels[name] = channel

    def outcomes(self) -> dict[tuple[str, str], int]:
        """Attempts by (channel, outcome: sent, delivered, retry, failed, replied)."""
        with self._lock:
            return dict(self._outcomes)

    def exposition_lines(self) -> list[str]:
        """Prometheus text for `Metrics.add_collector`: attempts by channel and outcome."""
        name = "tagwatch_device_commands_total"
        lines = [
            f"# HELP {name} Wearer notification commands by channel and outcome.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f'{name}{{channel="{channel}",outcome="{outcome}"}} {count}'
            for (channel, outcome), count in sorted(self.outcomes().items())
        ]
        return lines

    # -- queue -------------------------------------------------------------------------

    def queue_new(self) -> int:
        """Queue commands for the alerts raised since the cursor; returns how many."""
        store, now = self._store, self._clock.now()
        after = store.commands.feed_cursor(FEED)
        actions = store.alert_history.alert_actions_after(after, limit=self.settings.batch)
        if not actions:
            return 0
        queued = 0
        with store.transaction() as tx:
            for action in actions:
                if action.action != RAISED or now - action.at > timedelta(
                    seconds=self.settings.fresh_s
                ):
                    continue
                alert = tx.alerts.get_alert(action.alert_id)
                command = self._command_for(alert, now) if alert is not None else None
                if command is not None and tx.commands.add_command(command):
                    queued += 1
                    logger.info(
                        "queued %s command %s to %s for alert %s",
                        command.channel,
                        command.id,
                        command.device_id,
                        command.alert_id,
                    )
            tx.commands.set_feed_cursor(FEED, actions[-1].id)
        return queued

    def _command_for(self, alert: Alert, now: datetime) -> DeviceCommand | None:
        text = wearer_text(alert)
        if text is None or alert.late:
            return None
        device = self._store.devices.get_device(alert.device_id)
        channel = None if device is None else CHANNEL_OF_PROTOCOL.get(device.protocol)
        if channel is None:
            return None
        return DeviceCommand(
            id=uuid.uuid4().hex,
            device_id=alert.device_id,
            alert_id=alert.id,
            channel=channel,
            text=text,
            state=CommandState.QUEUED,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=self.settings.expire_s),
            max_attempts=self.settings.max_attempts,
            next_attempt_at=now,
        )

    # -- deliver -----------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Attempt every due command once; returns how many were attempted."""
        due = await asyncio.to_thread(
            self._store.commands.due_commands, self._clock.now(), limit=self.settings.batch
        )
        attempted = 0
        for command in due:
            claimed = await asyncio.to_thread(self._claim, command)
            if claimed is not None:
                attempted += 1
                await self._attempt(claimed)
        return attempted

    def _claim(self, command: DeviceCommand) -> DeviceCommand | None:
        """This process's attempt: attempts + 1, and due again only after the attempt's
        timeout (so a crash mid-attempt retries). None if another process took it."""
        now = self._clock.now()
        if now >= command.expires_at:
            self._finish(command, CommandState.FAILED, now, error=_expired(command))
            return None
        lease = now + timedelta(seconds=self.settings.attempt_timeout_s * 2)
        claimed = command.moved(
            CommandState.QUEUED, now, attempts=command.attempts + 1, next_attempt_at=lease
        )
        try:
            self._store.commands.replace_command(command, claimed)
        except ConflictError:
            return None
        return claimed

    async def _attempt(self, command: DeviceCommand) -> None:
        channel = self._channels.get(command.channel)
        try:
            if channel is None:
                raise CommandFailed(f"no {command.channel} channel in this process")
            result = await asyncio.wait_for(
                channel.deliver(command), timeout=self.settings.attempt_timeout_s
            )
        except Exception as error:  # any channel failure is a failed attempt, not a crash
            reason = error.reason if isinstance(error, CommandFailed) else _describe(error)
            retry = error.retry if isinstance(error, CommandFailed) else True
            await asyncio.to_thread(self._failed_attempt, command, reason, retry)
            return
        await asyncio.to_thread(self._succeeded, command, result)

    def _succeeded(self, command: DeviceCommand, result: Delivered) -> None:
        now = self._clock.now()
        after = command.moved(
            result.state,
            now,
            next_attempt_at=None,
            sent_at=now,
            delivered_at=now if result.state is CommandState.DELIVERED else None,
            reply=result.reply,
            last_error="",
        )
        self._write(command, after, result.state.value)

    def _failed_attempt(self, command: DeviceCommand, reason: str, retry: bool) -> None:
        now = self._clock.now()
        logger.warning(
            "command %s to %s, attempt %d of %d failed: %s",
            command.id,
            command.device_id,
            command.attempts,
            command.max_attempts,
            reason,
        )
        if not retry or command.attempts >= command.max_attempts:
            self._finish(command, CommandState.FAILED, now, error=reason)
            return
        again = now + self.settings.backoff(command.attempts)
        after = command.moved(CommandState.QUEUED, now, next_attempt_at=again, last_error=reason)
        self._write(command, after, "retry")

    def _finish(
        self, command: DeviceCommand, state: CommandState, now: datetime, *, error: str
    ) -> None:
        after = command.moved(state, now, next_attempt_at=None, last_error=error)
        self._write(command, after, state.value)

    def _write(self, before: DeviceCommand, after: DeviceCommand, outcome: str) -> bool:
        try:
            self._store.commands.replace_command(before, after)
        except ConflictError:  # a reply got there first: the device's word wins
            return False
        with self._lock:
            self._outcomes[(after.channel, outcome)] += 1
        if self._bus is not None:  # the dashboard shows the delivery state as it moves
            self._bus.publish({"type": "notification", "notification": notification_json(after)})
        return True

    def expire(self) -> int:
        """Fail unfinished commands past their expiry (queued ones, and sent ones of
        channels whose devices answer); returns how many."""
        now, expired = self._clock.now(), 0
        for command in self._store.commands.unfinished_commands():
            if now < command.expires_at:
                continue
            if command.state is CommandState.QUEUED:
                error = _expired(command)
            elif command.channel in ANSWERING:
                error = "no answer from the device before expiry"
            else:
                continue  # sent where no answer ever comes: sent is as far as it goes
            after = command.moved(CommandState.FAILED, now, next_attempt_at=None, last_error=error)
            expired += self._write(command, after, "failed")
        return expired

    # -- replies -----------------------------------------------------------------------

    def record_reply(self, reply: CommandReply) -> bool:
        """A device answered a command; False if it names no unfinished command of its own."""
        for _ in range(3):  # a concurrent attempt may write between read and write
            command = self._store.commands.get_command(reply.command_id)
            if command is None or command.device_id != reply.device_id or command.finished:
                return False
            now = self._clock.now()
            state = CommandState.DELIVERED if reply.delivered else CommandState.FAILED
            after = command.moved(
                state,
                now,
                next_attempt_at=None,
                sent_at=command.sent_at or now,
                delivered_at=now if reply.delivered else None,
                reply=reply.text,
                last_error="" if reply.delivered else "the device could not show it",
            )
            if self._write(command, after, "replied"):
                return True
        return False

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Queue and deliver until `stop` is set (or the task is cancelled)."""
        stop = stop if stop is not None else asyncio.Event()
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.queue_new)
                await self.deliver_due()
                await asyncio.to_thread(self.expire)
            except Exception:  # the store may be busy: the next round tries again
                logger.exception("notifier round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_s)


def _expired(command: DeviceCommand) -> str:
    last = f" (last attempt: {command.last_error})" if command.last_error else ""
    return "expired before delivery" + last


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def notification_json(command: DeviceCommand) -> dict[str, object]:
    """A command as the API and the live feed show it."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "id": command.id,
        "device_id": command.device_id,
        "alert_id": command.alert_id,
        "channel": command.channel,
        "text": command.text,
        "state": command.state.value,
        "attempts": command.attempts,
        "max_attempts": command.max_attempts,
        "created_at": iso(command.created_at),
        "updated_at": iso(command.updated_at),
        "expires_at": iso(command.expires_at),
        "next_attempt_at": iso(command.next_attempt_at),
        "sent_at": iso(command.sent_at),
        "delivered_at": iso(command.delivered_at),
        "reply": command.reply,
        "last_error": command.last_error,
    }
