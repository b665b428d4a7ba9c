"""Commands to devices and feed cursors in SQLite (migration 0004_device_commands)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store.errors import ConflictError
from tagwatch.store.sqlite.columns import from_us, opt_from_us, opt_us, placeholders, to_us
from tagwatch.store.sqlite.database import Database

_COLUMNS = (
    "id, device_id, alert_id, channel, text, state, attempts, max_attempts, created_at_us,"
    " updated_at_us, expires_at_us, next_attempt_at_us, sent_at_us, delivered_at_us, reply,"
    " last_error"
)
_UNFINISHED = (CommandState.QUEUED.value, CommandState.SENT.value)
_SELECT = f"SELECT {_COLUMNS} FROM device_commands"  # noqa: S608 - constant columns
_NAMES = [name.strip() for name in _COLUMNS.split(",")]
# The stored row must still be `before` in every column (IS: NULLs compare equal).
_SETS = ", ".join(f"{name} = ?" for name in _NAMES[1:])
_SAME = " AND ".join(f"{name} IS ?" for name in _NAMES)
_REPLACE = f"UPDATE device_commands SET {_SETS} WHERE {_SAME}"  # noqa: S608 - constant names


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
        created_at=from_us(r[8]),
        updated_at=from_us(r[9]),
        expires_at=from_us(r[10]),
        next_attempt_at=opt_from_us(r[11]),
        sent_at=opt_from_us(r[12]),
        delivered_at=opt_from_us(r[13]),
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
        to_us(c.created_at),
        to_us(c.updated_at),
        to_us(c.expires_at),
        opt_us(c.next_attempt_at),
        opt_us(c.sent_at),
        opt_us(c.delivered_at),
        c.reply,
        c.last_error,
    )


class SqliteCommands:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_command(self, command: DeviceCommand) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO device_commands ({_COLUMNS}) VALUES ({placeholders(16)})"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                _row(command),
            )
            return cursor.rowcount == 1

    def get_command(self, command_id: str) -> DeviceCommand | None:
        row = self._db.read().execute(_SELECT + " WHERE id = ?", (command_id,)).fetchone()
        return None if row is None else _command(row)

    def replace_command(self, before: DeviceCommand, after: DeviceCommand) -> None:
        if before.id != after.id:
            raise ValueError("replace_command: before and after are different commands")
        with self._db.transaction() as conn:
            cursor = conn.execute(_REPLACE, (*_row(after)[1:], *_row(before)))
            if cursor.rowcount != 1:
                raise ConflictError(f"command {before.id!r} changed since it was read")

    def commands_for_alert(self, alert_id: str) -> list[DeviceCommand]:
        rows = (
            self._db.read()
            .execute(
                _SELECT + " WHERE alert_id = ? ORDER BY created_at_us, id",
                (alert_id,),
            )
            .fetchall()
        )
        return [_command(row) for row in rows]

    def due_commands(self, now: datetime, *, limit: int = 100) -> list[DeviceCommand]:
        rows = (
            self._db.read()
            .execute(
                _SELECT + " WHERE state = 'queued'"
                " AND next_attempt_at_us <= ? ORDER BY next_attempt_at_us, id LIMIT ?",
                (to_us(now), limit),
            )
            .fetchall()
        )
        return [_command(row) for row in rows]

    def unfinished_commands(self, *, limit: int = 1000) -> list[DeviceCommand]:
        rows = (
            self._db.read()
            .execute(
                _SELECT + " WHERE state IN (?, ?) ORDER BY created_at_us, id LIMIT ?",
                (*_UNFINISHED, limit),
            )
            .fetchall()
        )
        return [_command(row) for row in rows]

    def feed_cursor(self, name: str) -> int:
        row = (
            self._db.read()
            .execute("SELECT after_id FROM feed_cursors WHERE name = ?", (name,))
            .fetchone()
        )
        return 0 if row is None else int(row[0])

    def set_feed_cursor(self, name: str, after_id: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO feed_cursors (name, after_id) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET after_id = excluded.after_id",
                (name, after_id),
            )
