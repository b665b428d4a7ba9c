"""Users who sign in, with Argon2 password hashes, in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.store.errors import ConflictError, MissingReferenceError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.postgres.database import Connection, Database, instant
from tagwatch.store.records import DEFAULT_ORGANISATION_ID, User, UserRole

_COLUMNS = "username, role, created_at, organisation_id"


def _user(r: Any) -> User:
    return User(r[0], UserRole(r[1]), r[2], r[3])


class PostgresUsers:
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
        created = instant(now)
        password_hash = self._hasher.hash(password)  # slow on purpose: outside the transaction
        with self._db.transaction() as conn:
            _organisation_exists(conn, organisation_id)
            # ON CONFLICT DO NOTHING, not a failed INSERT: the caller's transaction goes on.
            cursor = conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at, organisation_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (username) DO NOTHING",
                (username, password_hash, role.value, created, organisation_id),
            )
            if cursor.rowcount == 0:
                raise ConflictError(f"the username {username!r} is taken")
        return User(username, role, created, organisation_id)

    def get_user(self, username: str) -> User | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE username = %s",  # noqa: S608
                (username,),
            ).fetchone()
        return None if row is None else _user(row)

    def list_users(self, *, organisation_id: str | None = None) -> list[User]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM users"  # noqa: S608
                " WHERE %(org)s::text IS NULL OR organisation_id = %(org)s ORDER BY username",
                {"org": organisation_id},
            ).fetchall()
        return [_user(r) for r in rows]

    def verify_password(self, username: str, password: str) -> User | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = %s",  # noqa: S608
                (username,),
            ).fetchone()
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
                "UPDATE users SET password_hash = %s WHERE username = %s",
                (password_hash, username),
            )
            return cursor.rowcount > 0

    def set_role(self, username: str, role: UserRole) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET role = %s WHERE username = %s", (UserRole(role).value, username)
            )
            return cursor.rowcount > 0

    def set_organisation(self, username: str, organisation_id: str) -> bool:
        with self._db.transaction() as conn:
            _organisation_exists(conn, organisation_id)
            cursor = conn.execute(
                "UPDATE users SET organisation_id = %s WHERE username = %s",
                (organisation_id, username),
            )
            return cursor.rowcount > 0

    def delete_user(self, username: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM users WHERE username = %s", (username,))
            return cursor.rowcount > 0


def _organisation_exists(conn: Connection, organisation_id: str) -> None:
    """Checked first, so the caller's transaction is not aborted by a foreign key."""
    if conn.execute("SELECT 1 FROM organisations WHERE id = %s", (organisation_id,)).fetchone():
        return
    raise MissingReferenceError(f"no organisation {organisation_id!r}")
