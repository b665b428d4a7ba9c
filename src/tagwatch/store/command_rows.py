"""Device commands as rows of `device_commands`, the same in every store.

Both stores keep the same sixteen columns in the same order; only instants differ
(SQLite: microseconds as integers, PostgreSQL: timestamptz), so these helpers take the
store's own conversion. The optional times are NULL when absent in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.commands import CommandState, DeviceCommand


def command_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> DeviceCommand:
    """The command in a row of `command_values`; `instant` reads a time back."""
    return DeviceCommand(
        id=r[0],
        device_id=r[1],
        alert_id=r[2],
        channel=r[3],
        text=r[4],
        state=CommandState(r[5]),
        attempts=r[6],
        max_attempts=r[7],
        created_at=instant(r[8]),
        updated_at=instant(r[9]),
        expires_at=instant(r[10]),
        next_attempt_at=None if r[11] is None else instant(r[11]),
        sent_at=None if r[12] is None else instant(r[12]),
        delivered_at=None if r[13] is None else instant(r[13]),
        reply=r[14],
        last_error=r[15],
    )


def command_values(c: DeviceCommand, instant: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The command's columns, id first; `instant` writes a time the store's way.

    The id leads so that an update can set `values[1:]` and match on all of them.
    """
    return (
        c.id,
        c.device_id,
        c.alert_id,
        c.channel,
        c.text,
        c.state.value,
        c.attempts,
        c.max_attempts,
        instant(c.created_at),
        instant(c.updated_at),
        instant(c.expires_at),
        None if c.next_attempt_at is None else instant(c.next_attempt_at),
        None if c.sent_at is None else instant(c.sent_at),
        None if c.delivered_at is None else instant(c.delivered_at),
        c.reply,
        c.last_error,
    )
