"""Commands to devices and feed cursors in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store.command_rows import command_from_row, command_values
from tagwatch.store.errors import ConflictError
from tagwatch.store.postgres.database import Database, as_read, instant

# In the order store.command_rows reads and writes them: change both together.
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


class PostgresCommands:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_command(self, command: DeviceCommand) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO device_commands ({_COLUMNS})"  # noqa: S608
                f" VALUES ({', '.join(['%s'] * len(_NAMES))}) ON CONFLICT DO NOTHING",
                command_values(command, instant),
            )
            return cursor.rowcount == 1

    def get_command(self, command_id: str) -> DeviceCommand | None:
        with self._db.read() as conn:
            row = conn.execute(_SELECT + " WHERE id = %s", (command_id,)).fetchone()
        return None if row is None else command_from_row(row, as_read)

    def replace_command(self, before: DeviceCommand, after: DeviceCommand) -> None:
        if before.id != after.id:
            raise ValueError("replace_command: before and after are different commands")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                _REPLACE, (*command_values(after, instant)[1:], *command_values(before, instant))
            )
            if cursor.rowcount != 1:
                raise ConflictError(f"command {before.id!r} changed since it was read")

    def _list(self, where: str, args: tuple[Any, ...]) -> list[DeviceCommand]:
        with self._db.read() as conn:
            rows = conn.execute(f"{_SELECT} {where}", args).fetchall()
        return [command_from_row(row, as_read) for row in rows]

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
