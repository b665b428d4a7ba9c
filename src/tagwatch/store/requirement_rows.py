"""Zones, curfews and appointments as table rows, the same in every store.

Both stores keep these tables with the same columns in the same order and the shapes and
schedules as JSON text (store.codec), so the rows are built and read here once. Only
instants differ - SQLite keeps microseconds as integers, PostgreSQL a timestamptz - so
the appointment helpers take the store's own conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.zones import Appointment, Curfew, Zone, ZoneKind
from tagwatch.store.codec import (
    schedule_from_text,
    schedule_to_text,
    shape_from_text,
    shape_to_text,
)


def order_key(order_id: str) -> str | None:
    """The order column: NULL, not an empty string, for a requirement under no order."""
    return order_id or None


def zone_values(zone: Zone) -> tuple[Any, ...]:
    """The zone's columns, in the order both stores' `zones` tables list them."""
    return (
        zone.id,
        zone.subject_id,
        order_key(zone.order_id),
        zone.kind.value,
        zone.name,
        shape_to_text(zone.shape),
        schedule_to_text(zone.schedule),
        zone.warning_buffer_m,
        zone.dwell_s,
        zone.release_s,
    )


def zone_from_row(r: Sequence[Any]) -> Zone:
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


def curfew_values(curfew: Curfew) -> tuple[Any, ...]:
    """The curfew's columns, in the order both stores' `curfews` tables list them."""
    return (
        curfew.id,
        curfew.subject_id,
        order_key(curfew.order_id),
        shape_to_text(curfew.address),
        schedule_to_text(curfew.schedule),
        curfew.beacon_device_id,
        curfew.dwell_s,
        curfew.release_s,
    )


def curfew_from_row(r: Sequence[Any]) -> Curfew:
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


def appointment_values(
    appointment: Appointment, instant: Callable[[datetime], Any]
) -> tuple[Any, ...]:
    """The appointment's columns, in table order; `instant` writes a time the store's way."""
    return (
        appointment.id,
        appointment.subject_id,
        order_key(appointment.order_id),
        shape_to_text(appointment.place),
        instant(appointment.start),
        instant(appointment.end),
        appointment.grace_s,
        appointment.name,
    )


def appointment_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> Appointment:
    """The appointment in a row of `appointment_values`; `instant` reads a time back."""
    return Appointment(
        id=r[0],
        subject_id=r[1],
        order_id=r[2] or "",
        place=shape_from_text(r[3]),
        start=instant(r[4]),
        end=instant(r[5]),
        grace_s=r[6],
        name=r[7],
    )
