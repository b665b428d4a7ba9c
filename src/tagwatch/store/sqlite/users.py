"""Users who sign in, with Argon2 password hashes, in SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError, MissingReferenceError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.records import DEFAULT_ORGANISATION_ID, User, UserRole
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database

_COLUMNS = "username, role, created_at_us, organisation_id"


def _user(r: Any) -> User:
    return User(r[0], UserRole(r[1]), from_us(r[2]), r[3])


class SqliteUsers:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def create_user(
        self,
        username: str,
        password: str,
        role: UserRole,
        *,
        now: datetime,
        organisation_id: str = DEFAULT_ORGANISATION_ID,
    ) -> User:
        if not username:
            raise ValueError("a username must not be empty")
        role = UserRole(role)
        created_us = to_us(now)
        password_hash = self._hasher.hash(password)  # slow on purpose: before taking the writer
        with self._db.transaction() as conn:
            taken = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            if taken:
                raise ConflictError(f"the username {username!r} is taken")
            self._organisation_exists(conn, organisation_id)
            conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at_us, organisation_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (username, password_hash, role.value, created_us, organisation_id),
            )
        return User(username, role, from_us(created_us), organisation_id)

    @staticmethod
    def _organisation_exists(conn: Any, organisation_id: str) -> None:
        found = conn.execute(
            "SELECT 1 FROM organisations WHERE id = ?", (organisation_id,)
        ).fetchone()
        if found is None:
            raise MissingReferenceError(f"no organisation {organisation_id!r}")

    def get_user(self, username: str) -> User | None:
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,))  # noqa: S608
            .fetchone()
        )
        return None if row is None else _user(row)

    def list_users(self, *, organisation_id: str | None = None) -> list[User]:
        if organisation_id is None:
            rows = self._db.read().execute(
                f"SELECT {_COLUMNS} FROM users ORDER BY username"  # noqa: S608
            )
        else:
            rows = self._db.read().execute(
                f"SELECT {_COLUMNS} FROM users WHERE organisation_id = ?"  # noqa: S608
                " ORDER BY username",
                (organisation_id,),
            )
        return [_user(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        row = (
            self._db.read()
            .execute(
                f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?",  # noqa: S608
                (username,),
            )
            .fetchone()
        )
        if row is None:
            self._hasher.spend(password)
            return None
        if not self._hasher.verify(row[4], password):
            return None
        if self._hasher.needs_rehash(row[4]):
            self.set_password(username, password)
        return _user(row)

    def set_password(self, username: str, password: str) -> bool:
        password_hash = self._hasher.hash(password)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username)
            )
            return cursor.rowcount > 0

    def set_role(self, username: str, role: UserRole) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET role = ? WHERE username = ?", (UserRole(role).value, username)
            )
            return cursor.rowcount > 0

    def set_organisation(self, username: str, organisation_id: str) -> bool:
        """MissingReferenceError for an unknown organisation; False for an unknown user."""
        with self._db.transaction() as conn:
            self._organisation_exists(conn, organisation_id)
            cursor = conn.execute(
                "UPDATE users SET organisation_id = ? WHERE username = ?",
                (organisation_id, username),
            )
            return cursor.rowcount > 0

    def delete_user(self, username: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM users WHERE username = ?", (username,))
            return cursor.rowcount > 0
