"""Commands to a device: a message for the wearer, with its delivery state.

A command is queued (durably, by the notifier) when an alert should be told to the tag,
then delivered through the channel of the device's protocol (Codec 12 over the Teltonika
TCP connection, an MQTT command topic). Its state moves by an explicit table:

    queued ──attempt──► sent ──reply──► delivered
       │  ▲                 └──reply "failed"──► failed
       │  └─retry (attempts left, not expired)
       └──no attempts left / expired / no channel──► failed
    queued ──a channel that answers synchronously (Codec 12)──► delivered

`sent` means the transport took it (the MQTT broker acknowledged it for the device's
session); `delivered` means the device answered (a Codec 12 reply, a tag's reply message).
OwnTracks apps never answer, so their commands stay `sent`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class CommandState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


ALLOWED = {
    CommandState.QUEUED: frozenset(
        {CommandState.QUEUED, CommandState.SENT, CommandState.DELIVERED, CommandState.FAILED}
    ),
    CommandState.SENT: frozenset({CommandState.DELIVERED, CommandState.FAILED}),
    CommandState.DELIVERED: frozenset[CommandState](),
    CommandState.FAILED: frozenset[CommandState](),
}


class IllegalCommandTransition(ValueError):  # noqa: N818 - reads as the verdict it is
    pass


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    id: str
    device_id: str
    channel: str  # "teltonika", "mqtt", "owntracks": how it is delivered
    text: str
    state: CommandState
    created_at: datetime
    updated_at: datetime
    expires_at: datetime  # not delivered by then: failed (a late warning misleads)
    alert_id: str | None = None
    attempts: int = 0
    max_attempts: int = 5
    next_attempt_at: datetime | None = None  # when a queued command is due
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    reply: str = ""  # what the device answered
    last_error: str = ""

    def __post_init__(self) -> None:
        for moment in (self.created_at, self.updated_at, self.expires_at):
            if moment.tzinfo is None:
                raise ValueError("command instants must be time-zone aware")
        if self.max_attempts < 1:
            raise ValueError("a command needs at least one attempt")

    @property
    def finished(self) -> bool:
        return self.state in (CommandState.DELIVERED, CommandState.FAILED)

    def moved(self, to: CommandState, at: datetime, **changes: object) -> DeviceCommand:
        """This command in state `to` at `at`; IllegalCommandTransition if the table forbids."""
        if to not in ALLOWED[self.state]:
            raise IllegalCommandTransition(f"command {self.id}: {self.state} -> {to}")
        return replace(self, state=to, updated_at=at, **changes)  # type: ignore[arg-type]
