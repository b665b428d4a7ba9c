"""Managing what is monitored: subjects, devices and their secrets, assignments, orders,
zones, curfews, appointments, and the people who sign in.

Every change to what the engine checks calls `on_rules_changed` (the monitor rebuilds its
rule book when told, instead of polling the store). Creating something that exists is a
ConflictError, changing something that does not is a NotFoundError; references to missing
records are the store's MissingReferenceError.

Registering a device calls `on_device_registered(device_id)` (ingest forgets it from its
table of refused unknown devices); changing or revoking a device's secret drops the cached
checks of the old one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.service.auth import DeviceSecrets
from tagwatch.service.clock import Clock
from tagwatch.store.contract import UnitOfWork
from tagwatch.store.errors import ConflictError, MissingReferenceError, NotFoundError
from tagwatch.store.records import User, UserRole

T = TypeVar("T")
GENERATED_SECRET_BYTES = 24


def new_id() -> str:
    """An identifier for a record created without one."""
    return secrets.token_hex(8)


# -- the use cases -----------------------------------------------------------------------


class AdminService:
    def __init__(
        self,
        store: UnitOfWork,
        clock: Clock,
        *,
        on_rules_changed: Callable[[], object] = lambda: None,
        device_secrets: DeviceSecrets | None = None,
        on_device_registered: Callable[[str], object] = lambda _: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._rules_changed = on_rules_changed
        self._device_secrets = device_secrets
        self._device_registered = on_device_registered

    # generic helpers

    @staticmethod
    def _absent(found: object | None, kind: str, key: str) -> None:
        if found is not None:
            raise ConflictError(f"{kind} {key!r} already exists")

    @staticmethod
    def _present(found: T | None, kind: str, key: str) -> T:
        if found is None:
            raise NotFoundError(f"no {kind} {key!r}")
        return found

    def _changed(self) -> None:
        self._rules_changed()

    def _refers(self, subject_id: str, order_id: str = "") -> None:
        """MissingReferenceError naming the subject or order a record refers to in vain."""
        if self._store.subjects.get_subject(subject_id) is None:
            raise MissingReferenceError(f"no subject {subject_id!r}")
        if order_id:
            order = self._store.orders.get_order(order_id)
            if order is None:
                raise MissingReferenceError(f"no order {order_id!r}")
            if order.subject_id != subject_id:
                raise ValueError(f"order {order_id!r} is not an order of {subject_id!r}")

    # subjects

    def create_subject(self, subject: Subject) -> Subject:
        self._absent(self._store.subjects.get_subject(subject.id), "subject", subject.id)
        self._store.subjects.save_subject(subject)
        self._changed()
        return subject

    def update_subject(self, subject_id: str, changes: Mapping[str, Any]) -> Subject:
        subject = replace(
            self._present(self._store.subjects.get_subject(subject_id), "subject", subject_id),
            **changes,
        )
        self._store.subjects.save_subject(subject)
        self._changed()
        return subject

    # devices

    def create_device(self, device: Device) -> Device:
        self._absent(self._store.devices.get_device(device.id), "device", device.id)
        self._store.devices.save_device(device)
        self._device_registered(device.id)
        self._changed()
        return device

    def update_device(self, device_id: str, changes: Mapping[str, Any]) -> Device:
        device = replace(
            self._present(self._store.devices.get_device(device_id), "device", device_id),
            **changes,
        )
        self._store.devices.save_device(device)
        self._changed()
        return device

    def set_device_secret(self, device_id: str, secret: str | None = None) -> str:
        """Set (or, given None, generate) the device's secret; returns it, once."""
        self._present(self._store.devices.get_device(device_id), "device", device_id)
        secret = secret if secret else secrets.token_urlsafe(GENERATED_SECRET_BYTES)
        self._store.devices.set_device_secret(device_id, secret, now=self._clock.now())
        if self._device_secrets is not None:
            self._device_secrets.forget(device_id)
        return secret

    def revoke_device_secret(self, device_id: str) -> None:
        self._present(self._store.devices.get_device(device_id), "device", device_id)
        if not self._store.devices.revoke_device_secret(device_id):
            raise NotFoundError(f"device {device_id!r} has no secret")
        if self._device_secrets is not None:
            self._device_secrets.forget(device_id)

    # assignments

    def assign(self, assignment: Assignment) -> Assignment:
        self._present(
            self._store.devices.get_device(assignment.device_id), "device", assignment.device_id
        )
        self._present(
            self._store.subjects.get_subject(assignment.subject_id),
            "subject",
            assignment.subject_id,
        )
        self._store.assignments.save_assignment(assignment)
        self._changed()
        return assignment

    def end_assignment(self, device_id: str, at: datetime | None = None) -> Assignment:
        ended = self._store.assignments.end_assignment(
            device_id, at=at if at is not None else self._clock.now()
        )
        assignment = self._present(ended, "current assignment of device", device_id)
        self._changed()
        return assignment

    # orders

    def create_order(self, order: Order) -> Order:
        self._absent(self._store.orders.get_order(order.id), "order", order.id)
        self._refers(order.subject_id)
        _check_order(order)
        self._store.orders.save_order(order)
        self._changed()
        return order

    def update_order(self, order_id: str, changes: Mapping[str, Any]) -> Order:
        order = replace(
            self._present(self._store.orders.get_order(order_id), "order", order_id), **changes
        )
        _check_order(order)
        self._store.orders.save_order(order)
        self._changed()
        return order

    # zones

    def create_zone(self, zone: Zone) -> Zone:
        self._absent(self._store.zones.get_zone(zone.id), "zone", zone.id)
        self._refers(zone.subject_id, zone.order_id)
        self._store.zones.save_zone(zone)
        self._changed()
        return zone

    def update_zone(self, zone_id: str, changes: Mapping[str, Any]) -> Zone:
        zone = replace(
            self._present(self._store.zones.get_zone(zone_id), "zone", zone_id), **changes
        )
        self._refers(zone.subject_id, zone.order_id)
        self._store.zones.save_zone(zone)
        self._changed()
        return zone

    def delete_zone(self, zone_id: str) -> None:
        if not self._store.zones.delete_zone(zone_id):
            raise NotFoundError(f"no zone {zone_id!r}")
        self._changed()

    # curfews

    def create_curfew(self, curfew: Curfew) -> Curfew:
        self._absent(self._store.curfews.get_curfew(curfew.id), "curfew", curfew.id)
        self._refers(curfew.subject_id, curfew.order_id)
        self._store.curfews.save_curfew(curfew)
        self._changed()
        return curfew

    def update_curfew(self, curfew_id: str, changes: Mapping[str, Any]) -> Curfew:
        curfew = replace(
            self._present(self._store.curfews.get_curfew(curfew_id), "curfew", curfew_id),
            **changes,
        )
        self._refers(curfew.subject_id, curfew.order_id)
        self._store.curfews.save_curfew(curfew)
        self._changed()
        return curfew

    def delete_curfew(self, curfew_id: str) -> None:
        if not self._store.curfews.delete_curfew(curfew_id):
            raise NotFoundError(f"no curfew {curfew_id!r}")
        self._changed()

    # appointments

    def create_appointment(self, appointment: Appointment) -> Appointment:
        found = self._store.appointments.get_appointment(appointment.id)
        self._absent(found, "appointment", appointment.id)
        self._refers(appointment.subject_id, appointment.order_id)
        self._store.appointments.save_appointment(appointment)
        self._changed()
        return appointment

    def update_appointment(self, appointment_id: str, changes: Mapping[str, Any]) -> Appointment:
        found = self._store.appointments.get_appointment(appointment_id)
        appointment = replace(self._present(found, "appointment", appointment_id), **changes)
        self._refers(appointment.subject_id, appointment.order_id)
        self._store.appointments.save_appointment(appointment)
        self._changed()
        return appointment

    def delete_appointment(self, appointment_id: str) -> None:
        if not self._store.appointments.delete_appointment(appointment_id):
            raise NotFoundError(f"no appointment {appointment_id!r}")
        self._changed()

    # users

    def create_user(self, username: str, password: str, role: UserRole) -> User:
        if not username.strip() or username != username.strip():
            raise ValueError("a username must not be blank nor start or end with spaces")
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        return self._store.users.create_user(username, password, role, now=self._clock.now())

    def _other_admins(self, username: str) -> int:
        return sum(
            1
            for user in self._store.users.list_users()
            if user.role is UserRole.ADMIN and user.username != username
        )

    def update_user(
        self, username: str, *, role: UserRole | None = None, password: str | None = None
    ) -> User:
        user = self._present(self._store.users.get_user(username), "user", username)
        if role is not None and role is not user.role:
            if user.role is UserRole.ADMIN and not self._other_admins(username):
                raise ConflictError("the last admin cannot lose the admin role")
            self._store.users.set_role(username, role)
        if password is not None:
            if len(password) < 8:
                raise ValueError("a password needs at least 8 characters")
            self._store.users.set_password(username, password)
        return self._present(self._store.users.get_user(username), "user", username)

    def delete_user(self, username: str) -> None:
        user = self._present(self._store.users.get_user(username), "user", username)
        if user.role is UserRole.ADMIN and not self._other_admins(username):
            raise ConflictError("the last admin cannot be deleted")
        self._store.users.delete_user(username)


def _check_order(order: Order) -> None:
    if order.start.tzinfo is None or (order.end is not None and order.end.tzinfo is None):
        raise ValueError("an order's start and end must be time-zone aware")
    if order.end is not None and order.end <= order.start:
        raise ValueError("an order must end after it starts")
