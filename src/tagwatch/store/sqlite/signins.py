"""What signing in needs kept between requests and processes: refresh tokens (hashed) and
failed sign-ins per username (for the lockout)."""

from __future__ import annotations

from datetime import datetime

from tagwatch.store.records import LoginFailures, RefreshTokenUse
from tagwatch.store.sqlite.columns import from_us, opt_from_us, to_us
from tagwatch.store.sqlite.database import Database


class SqliteSignIns:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- refresh tokens ------------------------------------------------------------------

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
                "INSERT INTO refresh_tokens (token_hash, username, family, issued_at_us,"
                " expires_at_us) VALUES (?, ?, ?, ?, ?)",
                (token_hash, username, family, to_us(issued_at), to_us(expires_at)),
            )

    def spend_refresh_token(self, token_hash: str, *, now: datetime) -> RefreshTokenUse | None:
        """Mark the token used (once); None for a token never issued."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT username, family, expires_at_us, used_at_us, revoked_at_us"
                " FROM refresh_tokens WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            if row is None:
                return None
            if row[3] is None:
                conn.execute(
                    "UPDATE refresh_tokens SET used_at_us = ? WHERE token_hash = ?",
                    (to_us(now), token_hash),
                )
        return RefreshTokenUse(
            username=row[0],
            family=row[1],
            expires_at=from_us(row[2]),
            reused=row[3] is not None,
            revoked=row[4] is not None,
        )

    def revoke_refresh_family(self, family: str, *, now: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE refresh_tokens SET revoked_at_us = ? WHERE family = ?"
                " AND revoked_at_us IS NULL",
                (to_us(now), family),
            )
            return cursor.rowcount

    def revoke_user_refresh_tokens(self, username: str, *, now: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE refresh_tokens SET revoked_at_us = ? WHERE username = ?"
                " AND revoked_at_us IS NULL",
                (to_us(now), username),
            )
            return cursor.rowcount

    def drop_expired_refresh_tokens(self, before: datetime) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM refresh_tokens WHERE expires_at_us < ?", (to_us(before),)
            )
            return cursor.rowcount

    # -- failed sign-ins -----------------------------------------------------------------

    def login_failures(self, username: str) -> LoginFailures:
        row = (
            self._db.read()
            .execute(
                "SELECT failures, locked_until_us FROM login_failures WHERE username = ?",
                (username,),
            )
            .fetchone()
        )
        return LoginFailures(0, None) if row is None else LoginFailures(row[0], opt_from_us(row[1]))

    def record_login_failure(
        self, username: str, *, now: datetime, locked_until: datetime | None
    ) -> LoginFailures:
        """Count one more failure; `locked_until` (if given) becomes the lock's end."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO login_failures (username, failures, last_failure_us, locked_until_us)"
                " VALUES (?, 1, ?, ?) ON CONFLICT (username) DO UPDATE SET"
                " failures = failures + 1, last_failure_us = excluded.last_failure_us,"
                " locked_until_us = coalesce(excluded.locked_until_us, locked_until_us)",
                (username, to_us(now), None if locked_until is None else to_us(locked_until)),
            )
            row = conn.execute(
                "SELECT failures, locked_until_us FROM login_failures WHERE username = ?",
                (username,),
            ).fetchone()
        return LoginFailures(row[0], opt_from_us(row[1]))

    def clear_login_failures(self, username: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM login_failures WHERE username = ?", (username,))
