"""Users who sign in, with Argon2 password hashes, in SQLite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.records import User, UserRole
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database


def _user(r: Any) -> User:
    return User(r[0], UserRole(r[1]), from_us(r[2]))


class SqliteUsers:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def create_user(self, username: str, password: str, role: UserRole, *, now: datetime) -> User:
        if not username:
            raise ValueError("a username must not be empty")
        role = UserRole(role)
        created_us = to_us(now)
        password_hash = self._hasher.hash(password)  # slow on purpose: before taking the writer
        with self._db.transaction() as conn:
            taken = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
            if taken:
                raise ConflictError(f"the username {username!r} is taken")
            conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at_us)"
                " VALUES (?, ?, ?, ?)",
                (username, password_hash, role.value, created_us),
            )
        return User(username, role, from_us(created_us))

    def get_user(self, username: str) -> User | None:
        row = (
            self._db.read()
            .execute(
                "SELECT username, role, created_at_us FROM users WHERE username = ?", (username,)
            )
            .fetchone()
        )
        return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        rows = self._db.read().execute(
            "SELECT username, role, created_at_us FROM users ORDER BY username"
        )
        return [_user(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        row = (
            self._db.read()
            .execute(
                "SELECT username, role, created_at_us, password_hash FROM users WHERE username = ?",
                (username,),
            )
            .fetchone()
        )
        if row is None:
            self._hasher.spend(password)
            return None
        if not self._hasher.verify(row[3], password):
            return None
        if self._hasher.needs_rehash(row[3]):
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

    def delete_user(self, username: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM users WHERE username = ?", (username,))
            return cursor.rowcount > 0
