"""Zones, curfews and appointments in PostgreSQL: exact JSON plus a PostGIS `area`.

The JSON (store.codec) is what the store reads back, so shapes round-trip exactly; the
`area` column is the ground the shape covers, for GIS tools and spatial SQL: an area as
given, a circle or corridor buffered on the geography (metres) by its radius or half
width - the same reading the engine has of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from tagwatch.domain.zones import Appointment, Area, Circle, Curfew, Shape, Zone
from tagwatch.store.codec import (
    dumps,
    shape_to_geojson,
)
from tagwatch.store.postgres.database import Database, as_read, instant
from tagwatch.store.requirement_rows import (
    appointment_from_row,
    appointment_values,
    curfew_from_row,
    curfew_values,
    zone_from_row,
    zone_values,
)


def area_sql(shape: Shape) -> tuple[sql.Composable, tuple[Any, ...]]:
    """SQL for the shape's area as geometry(4326), and its parameters."""
    geojson = shape_to_geojson(shape, close_rings=True)
    if isinstance(shape, Area):
        return sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)"), (dumps(geojson),)
    size = shape.radius_m if isinstance(shape, Circle) else shape.half_width_m
    return (
        sql.SQL("ST_Buffer(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)::geography, %s)::geometry"),
        (dumps(geojson), size),
    )


class _Requirements:
    """Shared select/upsert/delete for one table of requirements keyed by id."""

    _table: str
    _columns: tuple[str, ...]  # id first; the area column is written from `area_of`

    def __init__(self, db: Database) -> None:
        self._db = db

    def _rows(self, where: str, args: tuple[Any, ...], order: str) -> list[Any]:
        query = sql.SQL("SELECT {} FROM {} {} ORDER BY {}").format(
            sql.SQL(", ").join(map(sql.Identifier, self._columns)),
            sql.Identifier(self._table),
            sql.SQL(where),  # fixed text chosen by this module
            sql.SQL(order),
        )
        with self._db.read() as conn:
            return conn.execute(query, args).fetchall()

    def _upsert(self, values: tuple[Any, ...], shape: Shape) -> None:
        area, area_args = area_sql(shape)
        columns = [*self._columns, "area"]
        query = sql.SQL(
            "INSERT INTO {table} ({columns}) VALUES ({values}, {area})"
            " ON CONFLICT (id) DO UPDATE SET {updates}"
        ).format(
            table=sql.Identifier(self._table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(sql.Placeholder() * len(self._columns)),
            area=area,
            updates=sql.SQL(", ").join(
                sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in columns[1:]
            ),
        )
        with self._db.transaction() as conn:
            conn.execute(query, (*values, *area_args))

    def _delete(self, requirement_id: str) -> bool:
        query = sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(self._table))
        with self._db.transaction() as conn:
            return conn.execute(query, (requirement_id,)).rowcount > 0


class PostgresZones(_Requirements):
    _table = "zones"
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = (
        "id",
        "subject_id",
        "order_id",
        "kind",
        "name",
        "shape_json",
        "schedule_json",
        "warning_buffer_m",
        "dwell_s",
        "release_s",
    )

    def save_zone(self, zone: Zone) -> None:
        values = zone_values(zone)
        self._upsert(values, zone.shape)

    def get_zone(self, zone_id: str) -> Zone | None:
        rows = self._rows("WHERE id = %s", (zone_id,), "id")
        return zone_from_row(rows[0]) if rows else None

    def list_zones(self, *, subject_id: str | None = None) -> list[Zone]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = %s", (subject_id,), "subject_id, id")
        return [zone_from_row(r) for r in rows]

    def delete_zone(self, zone_id: str) -> bool:
        return self._delete(zone_id)


class PostgresCurfews(_Requirements):
    _table = "curfews"
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = (
        "id",
        "subject_id",
        "order_id",
        "address_json",
        "schedule_json",
        "beacon_device_id",
        "dwell_s",
        "release_s",
    )

    def save_curfew(self, curfew: Curfew) -> None:
        values = curfew_values(curfew)
        self._upsert(values, curfew.address)

    def get_curfew(self, curfew_id: str) -> Curfew | None:
        rows = self._rows("WHERE id = %s", (curfew_id,), "id")
        return curfew_from_row(rows[0]) if rows else None

    def list_curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        if subject_id is None:
            rows = self._rows("", (), "subject_id, id")
        else:
            rows = self._rows("WHERE subject_id = %s", (subject_id,), "subject_id, id")
        return [curfew_from_row(r) for r in rows]

    def delete_curfew(self, curfew_id: str) -> bool:
        return self._delete(curfew_id)


class PostgresAppointments(_Requirements):
    _table = "appointments"
    # In the order store.requirement_rows reads and writes them: change both together.
    _columns = (
        "id",
        "subject_id",
        "order_id",
        "place_json",
        "start_at",
        "end_at",
        "grace_s",
        "name",
    )

    def save_appointment(self, appointment: Appointment) -> None:
        values = appointment_values(appointment, instant)
        self._upsert(values, appointment.place)

    def get_appointment(self, appointment_id: str) -> Appointment | None:
        rows = self._rows("WHERE id = %s", (appointment_id,), "id")
        return appointment_from_row(rows[0], as_read) if rows else None

    def list_appointments(
        self, *, subject_id: str | None = None, ending_after: datetime | None = None
    ) -> list[Appointment]:
        where, args = ["true"], list[Any]()
        if subject_id is not None:
            where.append("subject_id = %s")
            args.append(subject_id)
        if ending_after is not None:
            where.append("end_at >= %s")
            args.append(instant(ending_after))
        rows = self._rows(f"WHERE {' AND '.join(where)}", tuple(args), "start_at, id")
        return [appointment_from_row(r, as_read) for r in rows]

    def delete_appointment(self, appointment_id: str) -> bool:
        return self._delete(appointment_id)
