"""Refresh tokens (hashed), failed sign-ins per username, and device secret rotation."""

from __future__ import annotations

from datetime import datetime

from tagwatch.store.hashing import SecretHasher
from tagwatch.store.postgres.database import Database, instant, opt_instant
from tagwatch.store.records import LoginFailures, RefreshTokenUse


class PostgresSignIns:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_refresh_token(
        self,
        token_hash: str,
        *,
        username: str,
        family: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO refresh_tokens (token_hash, username, family, issued_at,"
                " expires_at) VALUES (%s, %s, %s, %s, %s)",
                (token_hash, username, family, instant(issued_at), instant(expires_at)),
            )

    def spend_refresh_token(self, token_hash: str, *, now: datetime) -> RefreshTokenUse | None:
        """Mark the token used (once); None for a token never issued."""
        moment = instant(now)
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT username, family, expires_at, used_at, revoked_at"
                " FROM refresh_tokens WHERE token_hash = %s FOR UPDATE",  # one spender wins
                (token_hash,),
            ).fetchone()
            if row is None:
                return None
            if row[3] is None:
                conn.execute(
                    "UPDATE refresh_tokens SET used_at = %s WHERE token_hash = %s",
                    (moment, token_hash),
                )
        return RefreshTokenUse(
            username=row[0],
            family=row[1],
            expires_at=row[2],
            reused=row[3] is not None,
            revoked=row[4] is not None,
        )

    def _revoke(self, column: str, value: str, now: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE refresh_tokens SET revoked_at = %s WHERE {column} = %s"  # noqa: S608
                " AND revoked_at IS NULL",
                (instant(now), value),
            )
            return cursor.rowcount

    def revoke_refresh_family(self, family: str, *, now: datetime) -> int:
        return self._revoke("family", family, now)

    def revoke_user_refresh_tokens(self, username: str, *, now: datetime) -> int:
        return self._revoke("username", username, now)

    def drop_expired_refresh_tokens(self, before: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM refresh_tokens WHERE expires_at < %s", (instant(before),)
            )
            return cursor.rowcount

    def login_failures(self, username: str) -> LoginFailures:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT failures, locked_until FROM login_failures WHERE username = %s",
                (username,),
            ).fetchone()
        return LoginFailures(0, None) if row is None else LoginFailures(row[0], row[1])

    def record_login_failure(
        self, username: str, *, now: datetime, locked_until: datetime | None
    ) -> LoginFailures:
        with self._db.transaction() as conn:
            row = conn.execute(
                "INSERT INTO login_failures (username, failures, last_failure, locked_until)"
                " VALUES (%s, 1, %s, %s) ON CONFLICT (username) DO UPDATE SET"
                " failures = login_failures.failures + 1,"
                " last_failure = excluded.last_failure,"
                " locked_until = coalesce(excluded.locked_until, login_failures.locked_until)"
                " RETURNING failures, locked_until",
                (username, instant(now), opt_instant(locked_until)),
            ).fetchone()
        return LoginFailures(0, None) if row is None else LoginFailures(row[0], row[1])

    def clear_login_failures(self, username: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE username = %s", (username,))


class PostgresDeviceKeys:
    """A device's previous secret stays valid until a deadline after a rotation."""

    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def retire_device_secret(self, device_id: str, *, valid_until: datetime) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO device_previous_secrets (device_id, secret_hash, valid_until)"
                " SELECT device_id, secret_hash, %s FROM device_credentials"
                " WHERE device_id = %s ON CONFLICT (device_id) DO UPDATE SET"
                " secret_hash = excluded.secret_hash, valid_until = excluded.valid_until",
                (instant(valid_until), device_id),
            )
            return cursor.rowcount > 0

    def _previous(self, device_id: str, now: datetime) -> tuple[str, datetime] | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT secret_hash, valid_until FROM device_previous_secrets"
                " WHERE device_id = %s AND valid_until > %s",
                (device_id, instant(now)),
            ).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def verify_previous_secret(self, device_id: str, secret: str, *, now: datetime) -> bool:
        previous = self._previous(device_id, now)
        if previous is None:
            self._hasher.spend(secret)
            return False
        return self._hasher.verify(previous[0], secret)

    def previous_secret_valid_until(self, device_id: str, *, now: datetime) -> datetime | None:
        previous = self._previous(device_id, now)
        return None if previous is None else previous[1]

    def drop_previous_secret(self, device_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM device_previous_secrets WHERE device_id = %s", (device_id,)
            )
            return cursor.rowcount > 0
