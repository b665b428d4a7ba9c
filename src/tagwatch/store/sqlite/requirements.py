"""Zones, curfews and appointments in SQLite: shapes and schedules as JSON (store.codec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.domain.zones import Appointment, Curfew, Zone, ZoneKind
from tagwatch.store.codec import (
    schedule_from_text,
    schedule_to_text,
    shape_from_text,
    shape_to_text,
)
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database


def _order_key(order_id: str) -> str | None:
    return order_id or None


class _Requirements:
    """Shared select/delete for one table of requirements keyed by id."""

    _table: str
    _columns: str

    def __init__(self, db: Database) -> None:
        self._db = db

    def _rows(self, where: str, args: tuple[Any, ...], order: str) -> list[Any]:
        return (
            self._db.read()
            .execute(
                f"SELECT {self._columns} FROM {self._table} {where} ORDER BY {order}",  # noqa: S608
                args,
            )
            .fetchall()
        )

    def _upsert(self, values: tuple[Any, ...]) -> None:
        names = [c.strip() for c in self._columns.split(",")]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO {self._table} ({self._columns})"  # noqa: S608
                f" VALUES ({','.join('?' * len(names))}) ON CONFLICT (id) DO UPDATE SET {updates}",
                values,
            )

    def _delete(self, requirement_id: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"DELETE FROM {self._table} WHERE id = ?",  # noqa: S608
                (requirement_id,),
            )
            return cursor.rowcount > 0


class SqliteZones(_Requirements):
    _table = "zones"
    _columns = (
        "id, subject_id, order_id, kind, name, shape_json, schedule_json,"
        " warning_buffer_m, dwell_s, release_s"
    )

    def save_zone(self, zone: Zone) -> None:
        self._upsert(
            (
                zone.id,
                zone.subject_id,
                _order_key(zone.order_id),
                zone.kind.value,
                zone.name,
                shape_to_text(zone.shape),
                schedule_to_text(zone.schedule),
                zone.warning_buffer_m,
                zone.dwell_s,
                zone.release_s,
            )
        )

    def get_zone(self, zone_id: str) -> Zone | None:
        rows = self._rows("WHERE id = ?", (zone_id,), "id")
        return _zone(rows[0]) if rows else None

    def list_zones(self, *, subject_id: str | None = None) -> list[Zone]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = ?", (subject_id,), "subject_id, id")
        return [_zone(r) for r in rows]

    def delete_zone(self, zone_id: str) -> bool:
        return self._delete(zone_id)


def _zone(r: Any) -> Zone:
    return Zone(
        id=r[0],
        subject_id=r[1],
        order_id=r[2] or "",
        kind=ZoneKind(r[3]),
        name=r[4],
        shape=shape_from_text(r[5]),
        schedule=schedule_from_text(r[6]),
        warning_buffer_m=r[7],
        dwell_s=r[8],
        release_s=r[9],
    )


class SqliteCurfews(_Requirements):
    _table = "curfews"
    _columns = (
        "id, subject_id, order_id, address_json, schedule_json, beacon_device_id,"
        " dwell_s, release_s"
    )

    def save_curfew(self, curfew: Curfew) -> None:
        self._upsert(
            (
                curfew.id,
                curfew.subject_id,
                _order_key(curfew.order_id),
                shape_to_text(curfew.address),
                schedule_to_text(curfew.schedule),
                curfew.beacon_device_id,
                curfew.dwell_s,
                curfew.release_s,
            )
        )

    def get_curfew(self, curfew_id: str) -> Curfew | None:
        rows = self._rows("WHERE id = ?", (curfew_id,), "id")
        return _curfew(rows[0]) if rows else None

    def list_curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = ?", (subject_id,), "subject_id, id")
        return [_curfew(r) for r in rows]

    def delete_curfew(self, curfew_id: str) -> bool:
        return self._delete(curfew_id)


def _curfew(r: Any) -> Curfew:
    return Curfew(
        id=r[0],
        subject_id=r[1],
        order_id=r[2] or "",
        address=shape_from_text(r[3]),
        schedule=schedule_from_text(r[4]),
        beacon_device_id=r[5],
        dwell_s=r[6],
        release_s=r[7],
    )


class SqliteAppointments(_Requirements):
    _table = "appointments"
    _columns = "id, subject_id, order_id, place_json, start_us, end_us, grace_s, name"

    def save_appointment(self, appointment: Appointment) -> None:
        self._upsert(
            (
                appointment.id,
                appointment.subject_id,
                _order_key(appointment.order_id),
                shape_to_text(appointment.place),
                to_us(appointment.start),
                to_us(appointment.end),
                appointment.grace_s,
                appointment.name,
            )
        )

    def get_appointment(self, appointment_id: str) -> Appointment | None:
        rows = self._rows("WHERE id = ?", (appointment_id,), "id")
        return _appointment(rows[0]) if rows else None

    def list_appointments(
        self, *, subject_id: str | None = None, ending_after: datetime | None = None
    ) -> list[Appointment]:
        where, args = ["1"], list[Any]()
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if ending_after is not None:
            where.append("end_us >= ?")
            args.append(to_us(ending_after))
        rows = self._rows(f"WHERE {' AND '.join(where)}", tuple(args), "start_us, id")
        return [_appointment(r) for r in rows]

    def delete_appointment(self, appointment_id: str) -> bool:
        return self._delete(appointment_id)


def _appointment(r: Any) -> Appointment:
    return Appointment(
        id=r[0],
        subject_id=r[1],
        order_id=r[2] or "",
        place=shape_from_text(r[3]),
        start=from_us(r[4]),
        end=from_us(r[5]),
        grace_s=r[6],
        name=r[7],
    )
