"""Subjects, devices and their secrets, assignments and orders, in SQLite."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

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
from tagwatch.store.codec import dumps
from tagwatch.store.errors import ConflictError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.records import DeviceCredential
from tagwatch.store.sqlite.columns import from_us, opt_from_us, opt_us, to_us
from tagwatch.store.sqlite.database import Database

_NEVER = 2**62  # an open end, for overlap arithmetic


class SqliteSubjects:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_subject(self, subject: Subject) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO subjects (id, name, risk_level, reference) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " risk_level = excluded.risk_level, reference = excluded.reference",
                (subject.id, subject.name, subject.risk_level.value, subject.reference),
            )

    def get_subject(self, subject_id: str) -> Subject | None:
        rows = self._select("WHERE id = ?", (subject_id,))
        return rows[0] if rows else None

    def list_subjects(self) -> list[Subject]:
        return self._select("", ())

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Subject]:
        rows = self._db.read().execute(
            f"SELECT id, name, risk_level, reference FROM subjects {where} ORDER BY id",  # noqa: S608
            args,
        )
        return [Subject(r[0], r[1], RiskLevel(r[2]), r[3]) for r in rows]


class SqliteDevices:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def save_device(self, device: Device) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO devices (id, kind, protocol, label) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
                " protocol = excluded.protocol, label = excluded.label",
                (device.id, device.kind.value, device.protocol, device.label),
            )

    def get_device(self, device_id: str) -> Device | None:
        rows = self._select("WHERE id = ?", (device_id,))
        return rows[0] if rows else None

    def list_devices(self) -> list[Device]:
        return self._select("", ())

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Device]:
        rows = self._db.read().execute(
            f"SELECT id, kind, protocol, label FROM devices {where} ORDER BY id",  # noqa: S608
            args,
        )
        return [Device(r[0], DeviceKind(r[1]), r[2], r[3]) for r in rows]

    def set_device_secret(self, device_id: str, secret: str, *, now: datetime) -> None:
        secret_hash = self._hasher.hash(secret)  # slow on purpose: before taking the writer
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO device_credentials (device_id, secret_hash, created_at_us)"
                " VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                " secret_hash = excluded.secret_hash, created_at_us = excluded.created_at_us",
                (device_id, secret_hash, to_us(now)),
            )

    def verify_device_secret(self, device_id: str, secret: str) -> bool:
        row = (
            self._db.read()
            .execute("SELECT secret_hash FROM device_credentials WHERE device_id = ?", (device_id,))
            .fetchone()
        )
        if row is None:
            self._hasher.spend(secret)
            return False
        if not self._hasher.verify(row[0], secret):
            return False
        if self._hasher.needs_rehash(row[0]):
            with self._db.transaction() as conn:
                conn.execute(
                    "UPDATE device_credentials SET secret_hash = ? WHERE device_id = ?",
                    (self._hasher.hash(secret), device_id),
                )
        return True

    def device_credential(self, device_id: str) -> DeviceCredential | None:
        row = (
            self._db.read()
            .execute(
                "SELECT created_at_us FROM device_credentials WHERE device_id = ?", (device_id,)
            )
            .fetchone()
        )
        return None if row is None else DeviceCredential(device_id, from_us(row[0]))

    def revoke_device_secret(self, device_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM device_credentials WHERE device_id = ?", (device_id,)
            )
            return cursor.rowcount > 0


_ASSIGNMENT_COLUMNS = "device_id, subject_id, start_us, end_us"


def _assignment(row: Any) -> Assignment:
    return Assignment(row[0], row[1], from_us(row[2]), opt_from_us(row[3]))


class SqliteAssignments:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_assignment(self, assignment: Assignment) -> None:
        start, end = to_us(assignment.start), opt_us(assignment.end)
        if end is not None and end <= start:
            raise ValueError("an assignment must end after it starts")
        with self._db.transaction() as conn:
            clash = conn.execute(
                "SELECT subject_id, start_us FROM assignments WHERE device_id = ?"
                " AND start_us != ? AND start_us < ? AND coalesce(end_us, ?) > ?",
                (assignment.device_id, start, end if end is not None else _NEVER, _NEVER, start),
            ).fetchone()
            if clash is not None:
                raise ConflictError(
                    f"device {assignment.device_id} is already assigned to {clash[0]} "
                    f"from {from_us(clash[1]).isoformat()}"
                )
            conn.execute(
                f"INSERT INTO assignments ({_ASSIGNMENT_COLUMNS}) VALUES (?, ?, ?, ?)"  # noqa: S608
                " ON CONFLICT (device_id, start_us) DO UPDATE SET"
                " subject_id = excluded.subject_id, end_us = excluded.end_us",
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
        where, args = ["1"], list[Any]()
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if at is not None:
            moment = to_us(at)
            where.append("start_us <= ? AND (end_us IS NULL OR end_us > ?)")
            args += [moment, moment]
        rows = self._db.read().execute(
            f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY device_id, start_us",
            args,
        )
        return [_assignment(r) for r in rows]


_ORDER_COLUMNS = (
    "id, subject_id, order_type, start_us, end_us, time_zone, reference, conditions_json"
)


class SqliteOrders:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save_order(self, order: Order) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
                " ON CONFLICT (id) DO UPDATE SET subject_id = excluded.subject_id,"
                " order_type = excluded.order_type, start_us = excluded.start_us,"
                " end_us = excluded.end_us, time_zone = excluded.time_zone,"
                " reference = excluded.reference, conditions_json = excluded.conditions_json",
                (
                    order.id,
                    order.subject_id,
                    order.order_type.value,
                    to_us(order.start),
                    opt_us(order.end),
                    order.time_zone,
                    order.reference,
                    dumps(list(order.conditions)),
                ),
            )

    def get_order(self, order_id: str) -> Order | None:
        rows = self._select("WHERE id = ?", (order_id,))
        return rows[0] if rows else None

    def list_orders(self, *, subject_id: str | None = None) -> list[Order]:
        if subject_id is None:
            return self._select("", ())
        return self._select("WHERE subject_id = ?", (subject_id,))

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Order]:
        rows = self._db.read().execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders {where}"  # noqa: S608
            " ORDER BY subject_id, start_us, id",
            args,
        )
        return [
            Order(
                id=r[0],
                subject_id=r[1],
                order_type=OrderType(r[2]),
                start=from_us(r[3]),
                end=opt_from_us(r[4]),
                time_zone=r[5],
                reference=r[6],
                conditions=tuple(json.loads(r[7])),
            )
            for r in rows
        ]
