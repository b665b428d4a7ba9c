"""Commands to devices and feed cursors in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store.errors import ConflictError
from tagwatch.store.postgres.database import Database, instant, opt_instant

_NAMES = [
    "id",
    "device_id",
    "alert_id",
    "channel",
    "text",
    "state",
    "attempts",
    "max_attempts",
    "created_at",
    "updated_at",
    "expires_at",
    "next_attempt_at",
    "sent_at",
    "delivered_at",
    "reply",
    "last_error",
]
_COLUMNS = ", ".join(_NAMES)
_SELECT = f"SELECT {_COLUMNS} FROM device_commands"  # noqa: S608 - constant columns
# The stored row must still be `before` in every column (NULLs compare equal).
_SETS = ", ".join(f"{name} = %s" for name in _NAMES[1:])
_SAME = " AND ".join(f"{name} IS NOT DISTINCT FROM %s" for name in _NAMES)
_REPLACE = f"UPDATE device_commands SET {_SETS} WHERE {_SAME}"  # noqa: S608 - constant names
_UNFINISHED = [CommandState.QUEUED.value, CommandState.SENT.value]


def _command(r: Sequence[Any]) -> DeviceCommand:
    return DeviceCommand(
        id=r[0],
        device_id=r[1],
        alert_id=r[2],
        channel=r[3],
        text=r[4],
        state=CommandState(r[5]),
        attempts=r[6],
        max_attempts=r[7],
        created_at=r[8],
        updated_at=r[9],
        expires_at=r[10],
        next_attempt_at=r[11],
        sent_at=r[12],
        delivered_at=r[13],
        reply=r[14],
        last_error=r[15],
    )


def _row(c: DeviceCommand) -> tuple[Any, ...]:
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
        opt_instant(c.next_attempt_at),
        opt_instant(c.sent_at),
        opt_instant(c.delivered_at),
        c.reply,
        c.last_error,
    )


class PostgresCommands:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_command(self, command: DeviceCommand) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO device_commands ({_COLUMNS})"  # noqa: S608
                f" VALUES ({', '.join(['%s'] * len(_NAMES))}) ON CONFLICT DO NOTHING",
                _row(command),
            )
            return cursor.rowcount == 1

    def get_command(self, command_id: str) -> DeviceCommand | None:
        with self._db.read() as conn:
            row = conn.execute(_SELECT + " WHERE id = %s", (command_id,)).fetchone()
        return None if row is None else _command(row)

    def replace_command(self, before: DeviceCommand, after: DeviceCommand) -> None:
        if before.id != after.id:
            raise ValueError("replace_command: before and after are different commands")
        with self._db.transaction() as conn:
            cursor = conn.execute(_REPLACE, (*_row(after)[1:], *_row(before)))
            if cursor.rowcount != 1:
                raise ConflictError(f"command {before.id!r} changed since it was read")

    def _list(self, where: str, args: tuple[Any, ...]) -> list[DeviceCommand]:
        with self._db.read() as conn:
            rows = conn.execute(f"{_SELECT} {where}", args).fetchall()
        return [_command(row) for row in rows]

    def commands_for_alert(self, alert_id: str) -> list[DeviceCommand]:
        return self._list("WHERE alert_id = %s ORDER BY created_at, id", (alert_id,))

    def due_commands(self, now: datetime, *, limit: int = 100) -> list[DeviceCommand]:
        return self._list(
            "WHERE state = 'queued' AND next_attempt_at <= %s"
            " ORDER BY next_attempt_at, id LIMIT %s",
            (instant(now), limit),
        )

    def unfinished_commands(self, *, limit: int = 1000) -> list[DeviceCommand]:
        return self._list(
            "WHERE state = ANY(%s) ORDER BY created_at, id LIMIT %s", (_UNFINISHED, limit)
        )

    def feed_cursor(self, name: str) -> int:
        with self._db.read() as conn:
            row = conn.execute("SELECT after_id FROM feed_cursors WHERE name = %s", (name,))
            found = row.fetchone()
        return 0 if found is None else int(found[0])

    def set_feed_cursor(self, name: str, after_id: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO feed_cursors (name, after_id) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id",
                (name, after_id),
            )
