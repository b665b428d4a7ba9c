"""Commands to devices and feed cursors in SQLite (migration 0004_device_commands)."""

from __future__ import annotations

from datetime import datetime

from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.store.command_rows import command_from_row, command_values
from tagwatch.store.errors import ConflictError
from tagwatch.store.sqlite.columns import from_us, placeholders, to_us
from tagwatch.store.sqlite.database import Database

# In the order store.command_rows reads and writes them: change both together.
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


class SqliteCommands:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_command(self, command: DeviceCommand) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO device_commands ({_COLUMNS}) VALUES ({placeholders(16)})"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                command_values(command, to_us),
            )
            return cursor.rowcount == 1

    def get_command(self, command_id: str) -> DeviceCommand | None:
        row = self._db.read().execute(_SELECT + " WHERE id = ?", (command_id,)).fetchone()
        return None if row is None else command_from_row(row, from_us)

    def replace_command(self, before: DeviceCommand, after: DeviceCommand) -> None:
        if before.id != after.id:
            raise ValueError("replace_command: before and after are different commands")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                _REPLACE, (*command_values(after, to_us)[1:], *command_values(before, to_us))
            )
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
        return [command_from_row(row, from_us) for row in rows]

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
        return [command_from_row(row, from_us) for row in rows]

    def unfinished_commands(self, *, limit: int = 1000) -> list[DeviceCommand]:
        rows = (
            self._db.read()
            .execute(
                _SELECT + " WHERE state IN (?, ?) ORDER BY created_at_us, id LIMIT ?",
                (*_UNFINISHED, limit),
            )
            .fetchall()
        )
        return [command_from_row(row, from_us) for row in rows]

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
