"""Device secret rotation: the secret a device had before the last rotation stays valid
until a deadline, so tags can be reconfigured without dropping their reports meanwhile."""

from __future__ import annotations

from datetime import datetime

from tagwatch.store.hashing import SecretHasher
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database


class SqliteDeviceKeys:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def retire_device_secret(self, device_id: str, *, valid_until: datetime) -> bool:
        """Keep the device's current secret as its previous one until `valid_until`.

        False if the device has no secret now. Call it, then set the new secret, in one
        transaction.
        """
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT secret_hash FROM device_credentials WHERE device_id = ?", (device_id,)
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "INSERT INTO device_previous_secrets (device_id, secret_hash, valid_until_us)"
                " VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                " secret_hash = excluded.secret_hash, valid_until_us = excluded.valid_until_us",
                (device_id, row[0], to_us(valid_until)),
            )
            return True

    def verify_previous_secret(self, device_id: str, secret: str, *, now: datetime) -> bool:
        """Whether `secret` is the device's previous secret and still within its grace."""
        row = (
            self._db.read()
            .execute(
                "SELECT secret_hash, valid_until_us FROM device_previous_secrets"
                " WHERE device_id = ?",
                (device_id,),
            )
            .fetchone()
        )
        if row is None or to_us(now) >= row[1]:
            self._hasher.spend(secret)
            return False
        return self._hasher.verify(row[0], secret)

    def previous_secret_valid_until(self, device_id: str, *, now: datetime) -> datetime | None:
        row = (
            self._db.read()
            .execute(
                "SELECT valid_until_us FROM device_previous_secrets WHERE device_id = ?",
                (device_id,),
            )
            .fetchone()
        )
        if row is None or to_us(now) >= row[0]:
            return None
        return from_us(row[0])

    def drop_previous_secret(self, device_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM device_previous_secrets WHERE device_id = ?", (device_id,)
            )
            return cursor.rowcount > 0
