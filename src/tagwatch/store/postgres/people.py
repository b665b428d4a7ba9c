"""Subjects, devices and their secrets, assignments and orders, in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from tagwatch.domain.people import (
    Assignment,
    Device,
    DeviceKind,
    Order,
    OrderType,
    RiskLevel,
    Subject,
)
from tagwatch.store.assignments import ended_at
from tagwatch.store.errors import ConflictError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.postgres.database import Database, instant, opt_instant
from tagwatch.store.records import DeviceCredential


class PostgresSubjects:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_subject(self, subject: Subject) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO subjects (id, name, risk_level, reference) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " risk_level = excluded.risk_level, reference = excluded.reference",
                (subject.id, subject.name, subject.risk_level.value, subject.reference),
            )

    def get_subject(self, subject_id: str) -> Subject | None:
        rows = self._select("WHERE id = %s", (subject_id,))
        return rows[0] if rows else None

    def list_subjects(self) -> list[Subject]:
        return self._select("", ())

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Subject]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT id, name, risk_level, reference FROM subjects {where} ORDER BY id",  # noqa: S608
                args,
            ).fetchall()
        return [Subject(r[0], r[1], RiskLevel(r[2]), r[3]) for r in rows]


class PostgresDevices:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def save_device(self, device: Device) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO devices (id, kind, protocol, label) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                " protocol = excluded.protocol, label = excluded.label",
                (device.id, device.kind.value, device.protocol, device.label),
            )

    def get_device(self, device_id: str) -> Device | None:
        rows = self._select("WHERE id = %s", (device_id,))
        return rows[0] if rows else None

    def list_devices(self) -> list[Device]:
        return self._select("", ())

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Device]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT id, kind, protocol, label FROM devices {where} ORDER BY id",  # noqa: S608
                args,
            ).fetchall()
        return [Device(r[0], DeviceKind(r[1]), r[2], r[3]) for r in rows]

    def set_device_secret(self, device_id: str, secret: str, *, now: datetime) -> None:
        created = instant(now)
        secret_hash = self._hasher.hash(secret)  # slow on purpose: outside the transaction
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO device_credentials (device_id, secret_hash, created_at)"
                " VALUES (%s, %s, %s) ON CONFLICT (device_id) DO UPDATE SET"
                " secret_hash = excluded.secret_hash, created_at = excluded.created_at",
                (device_id, secret_hash, created),
            )

    def _secret_hash(self, device_id: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT secret_hash FROM device_credentials WHERE device_id = %s", (device_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def verify_device_secret(self, device_id: str, secret: str) -> bool:
        stored = self._secret_hash(device_id)
        if stored is None:
            self._hasher.spend(secret)
            return False
        if not self._hasher.verify(stored, secret):
            return False
        if self._hasher.needs_rehash(stored):
            with self._db.transaction() as conn:
                conn.execute(
                    "UPDATE device_credentials SET secret_hash = %s WHERE device_id = %s",
                    (self._hasher.hash(secret), device_id),
                )
        return True

    def device_credential(self, device_id: str) -> DeviceCredential | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT created_at FROM device_credentials WHERE device_id = %s", (device_id,)
            ).fetchone()
        return None if row is None else DeviceCredential(device_id, row[0])

    def revoke_device_secret(self, device_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM device_credentials WHERE device_id = %s", (device_id,)
            )
            return cursor.rowcount > 0


_ASSIGNMENT_COLUMNS = "device_id, subject_id, start_at, end_at"


def _assignment(row: Any) -> Assignment:
    return Assignment(row[0], row[1], row[2], row[3])


class PostgresAssignments:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_assignment(self, assignment: Assignment) -> None:
        start, end = instant(assignment.start), opt_instant(assignment.end)
        if end is not None and end <= start:
            raise ValueError("an assignment must end after it starts")
        with self._db.transaction() as conn:
            # The exclusion constraint is the guarantee; this finds the clash to name it.
            clash = conn.execute(
                "SELECT subject_id, start_at FROM assignments WHERE device_id = %s"
                " AND start_at <> %s AND tstzrange(start_at, end_at, '[)')"
                " && tstzrange(%s, %s, '[)')",
                (assignment.device_id, start, start, end),
            ).fetchone()
            if clash is not None:
                raise ConflictError(
                    f"device {assignment.device_id} is already assigned to {clash[0]} "
                    f"from {clash[1].isoformat()}"
                )
            conn.execute(
                f"INSERT INTO assignments ({_ASSIGNMENT_COLUMNS}) VALUES (%s, %s, %s, %s)"  # noqa: S608
                " ON CONFLICT (device_id, start_at) DO UPDATE SET"
                " subject_id = excluded.subject_id, end_at = excluded.end_at",
                (assignment.device_id, assignment.subject_id, start, end),
            )

    def end_assignment(self, device_id: str, *, at: datetime) -> Assignment | None:
        with self._db.transaction():
            current = self.current_assignment(device_id, at)
            if current is None:
                return None
            ended = ended_at(current, at)
            self.save_assignment(ended)
            return ended

    def current_assignment(self, device_id: str, at: datetime) -> Assignment | None:
        found = self.list_assignments(device_id=device_id, at=at)
        return found[-1] if found else None

    def list_assignments(
        self,
        *,
        device_id: str | None = None,
        subject_id: str | None = None,
        at: datetime | None = None,
    ) -> list[Assignment]:
        where, args = ["true"], list[Any]()
        if device_id is not None:
            where.append("device_id = %s")
            args.append(device_id)
        if subject_id is not None:
            where.append("subject_id = %s")
            args.append(subject_id)
        if at is not None:
            moment = instant(at)
            where.append("start_at <= %s AND (end_at IS NULL OR end_at > %s)")
            args += [moment, moment]
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY device_id, start_at",
                args,
            ).fetchall()
        return [_assignment(r) for r in rows]


_ORDER_COLUMNS = "id, subject_id, order_type, start_at, end_at, time_zone, reference, conditions"


class PostgresOrders:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_order(self, order: Order) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO orders ({_ORDER_COLUMNS})"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET subject_id = excluded.subject_id,"
                " order_type = excluded.order_type, start_at = excluded.start_at,"
                " end_at = excluded.end_at, time_zone = excluded.time_zone,"
                " reference = excluded.reference, conditions = excluded.conditions",
                (
                    order.id,
                    order.subject_id,
                    order.order_type.value,
                    instant(order.start),
                    opt_instant(order.end),
                    order.time_zone,
                    order.reference,
                    Jsonb(list(order.conditions)),
                ),
            )

    def get_order(self, order_id: str) -> Order | None:
        rows = self._select("WHERE id = %s", (order_id,))
        return rows[0] if rows else None

    def list_orders(self, *, subject_id: str | None = None) -> list[Order]:
        if subject_id is None:
            return self._select("", ())
        return self._select("WHERE subject_id = %s", (subject_id,))

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Order]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders {where}"  # noqa: S608
                " ORDER BY subject_id, start_at, id",
                args,
            ).fetchall()
        return [
            Order(
                id=r[0],
                subject_id=r[1],
                order_type=OrderType(r[2]),
                start=r[3],
                end=r[4],
                time_zone=r[5],
                reference=r[6],
                conditions=tuple(r[7]),
            )
            for r in rows
        ]
