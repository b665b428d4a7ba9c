"""Zones, curfews and appointments in SQLite: shapes and schedules as JSON (store.codec)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.store.requirement_rows import (
    appointment_from_row,
    appointment_values,
    curfew_from_row,
    curfew_values,
    zone_from_row,
    zone_values,
)
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database


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
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = (
        "id, subject_id, order_id, kind, name, shape_json, schedule_json,"
        " warning_buffer_m, dwell_s, release_s"
    )

    def save_zone(self, zone: Zone) -> None:
        self._upsert(zone_values(zone))

    def get_zone(self, zone_id: str) -> Zone | None:
        rows = self._rows("WHERE id = ?", (zone_id,), "id")
        return zone_from_row(rows[0]) if rows else None

    def list_zones(self, *, subject_id: str | None = None) -> list[Zone]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = ?", (subject_id,), "subject_id, id")
        return [zone_from_row(r) for r in rows]

    def delete_zone(self, zone_id: str) -> bool:
        return self._delete(zone_id)


class SqliteCurfews(_Requirements):
    _table = "curfews"
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = (
        "id, subject_id, order_id, address_json, schedule_json, beacon_device_id,"
        " dwell_s, release_s"
    )

    def save_curfew(self, curfew: Curfew) -> None:
        self._upsert(curfew_values(curfew))

    def get_curfew(self, curfew_id: str) -> Curfew | None:
        rows = self._rows("WHERE id = ?", (curfew_id,), "id")
        return curfew_from_row(rows[0]) if rows else None

    def list_curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = ?", (subject_id,), "subject_id, id")
        return [curfew_from_row(r) for r in rows]

    def delete_curfew(self, curfew_id: str) -> bool:
        return self._delete(curfew_id)


class SqliteAppointments(_Requirements):
    _table = "appointments"
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = "id, subject_id, order_id, place_json, start_us, end_us, grace_s, name"

    def save_appointment(self, appointment: Appointment) -> None:
        self._upsert(appointment_values(appointment, to_us))

    def get_appointment(self, appointment_id: str) -> Appointment | None:
        rows = self._rows("WHERE id = ?", (appointment_id,), "id")
        return appointment_from_row(rows[0], from_us) if rows else None

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
        return [appointment_from_row(r, from_us) for r in rows]

    def delete_appointment(self, appointment_id: str) -> bool:
        return self._delete(appointment_id)
