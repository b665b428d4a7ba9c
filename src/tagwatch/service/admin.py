"""Changes people make: subjects, devices and their secrets, assignments, orders, zones,
curfews, appointments, alert actions, users, organisations and sharing grants.

An `AdminService` acts for one `Principal` (the API makes one per request; the CLI acts as
`Principal.console()`): each change is checked against tagwatch.service.access first, and
written together with its audit record in one transaction, so no change goes unrecorded and
no record describes a change that did not happen.

Every change to what the engine checks calls `on_rules_changed` after the commit (the
monitor rebuilds its rule book when told, instead of polling the store). Creating something
that exists is a ConflictError, changing something that does not (or that is out of the
principal's reach) is a NotFoundError; references to missing records are the store's
MissingReferenceError.

Registering a device calls `on_device_registered(device_id)` (ingest forgets it from its
table of refused unknown devices); changing, rotating or revoking a device's secret drops
the cached checks of the old one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.service.access import AccessPolicy, OrgAction, Principal, SubjectAction
from tagwatch.service.alerts import AlertService
from tagwatch.service.audit import AuditTrail
from tagwatch.service.auth import DeviceSecrets, PermissionDenied
from tagwatch.service.clock import Clock
from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.errors import ConflictError, MissingReferenceError, NotFoundError
from tagwatch.store.records import (
    Alert,
    AlertOutcome,
    Organisation,
    OrganisationKind,
    SharingGrant,
    User,
    UserRole,
)

T = TypeVar("T")
GENERATED_SECRET_BYTES = 24
DEFAULT_ROTATION_GRACE = timedelta(days=7)
MAX_ROTATION_GRACE = timedelta(days=90)
MAX_GRANT = timedelta(days=366)

_CASE = SubjectAction.MANAGE_CASE


def new_id() -> str:
    """An identifier for a record created without one."""
    return secrets.token_hex(8)


class AdminService:
    def __init__(
        self,
        store: UnitOfWork,
        clock: Clock,
        *,
        principal: Principal | None = None,
        audit: AuditTrail | None = None,
        on_rules_changed: Callable[[], object] = lambda: None,
        device_secrets: DeviceSecrets | None = None,
        on_device_registered: Callable[[str], object] = lambda _: None,
        alerts: AlertService | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.principal = principal if principal is not None else Principal.console()
        # The audit trail only uses the store's audit repository, which a UnitOfWork has.
        self._audit = audit if audit is not None else AuditTrail(cast(Store, store), clock)
        self._access = AccessPolicy(store, clock)
        self._rules_changed = on_rules_changed
        self._device_secrets = device_secrets
        self._device_registered = on_device_registered
        self._alerts = alerts

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

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """One transaction for a change and its audit record. A UnitOfWork that is not a
        Store (the CLI import passes one) is already inside a transaction."""
        begin = getattr(self._store, "transaction", None)
        with begin() if callable(begin) else nullcontext():
            yield

    def _record(self, action: str, subject_ids: tuple[str, ...] = (), **detail: object) -> None:
        self._audit.record(
            self.principal.audit_context,
            action,
            subject_ids=subject_ids,
            detail={k: v for k, v in detail.items() if v is not None},
        )

    def _may_manage(self, subject_id: str) -> None:
        """MissingReferenceError for a subject out of reach (as for one that does not exist);
        PermissionDenied when in reach but the role may not manage the case."""
        try:
            self._access.require(self.principal, _CASE, subject_id)
        except NotFoundError:
            raise MissingReferenceError(f"no subject {subject_id!r}") from None

    def _refers(self, subject_id: str, order_id: str = "") -> None:
        """MissingReferenceError naming the subject or order a record refers to in vain."""
        self._may_manage(subject_id)
        if self._store.subjects.get_subject(subject_id) is None:
            raise MissingReferenceError(f"no subject {subject_id!r}")
        if order_id:
            order = self._store.orders.get_order(order_id)
            if order is None:
                raise MissingReferenceError(f"no order {order_id!r}")
            if order.subject_id != subject_id:
                raise ValueError(f"order {order_id!r} is not an order of {subject_id!r}")

    def _existing(self, found: T | None, subject_of: Callable[[T], str], kind: str, key: str) -> T:
        """A record to change: NotFoundError if missing or out of reach, 403 if in reach
        but not the principal's to manage."""
        record = self._present(found, kind, key)
        self._access.require_record(self.principal, _CASE, subject_of(record), kind, key)
        return record

    def _changed(self) -> None:
        self._rules_changed()

    def require(self, action: OrgAction) -> None:
        """PermissionDenied unless the principal may do `action` (not about one subject)."""
        self._access.require_org(self.principal, action)

    # subjects

    def create_subject(self, subject: Subject, *, organisation_id: str | None = None) -> Subject:
        """Create a subject managed by `organisation_id` (default: the principal's own).

        Only national admins may create a subject for another organisation.
        """
        organisation_id = organisation_id or self.principal.organisation_id
        if not self.principal.may_ever(_CASE):
            raise PermissionDenied(f"a {self.principal.role.value} may not create subjects")
        if organisation_id != self.principal.organisation_id and not (
            self.principal.national and self.principal.role is UserRole.ADMIN
        ):
            raise PermissionDenied(
                "only a national admin creates subjects for another organisation"
            )
        self._present(
            self._store.organisations.get_organisation(organisation_id),
            "organisation",
            organisation_id,
        )
        with self._atomic():
            self._absent(self._store.subjects.get_subject(subject.id), "subject", subject.id)
            self._store.subjects.save_subject(subject)
            self._store.organisations.set_subject_organisation(subject.id, organisation_id)
            self._record("subject.create", (subject.id,), organisation_id=organisation_id)
        self._changed()
        return subject

    def update_subject(self, subject_id: str, changes: Mapping[str, Any]) -> Subject:
        found = self._store.subjects.get_subject(subject_id)
        subject = replace(self._existing(found, lambda s: s.id, "subject", subject_id), **changes)
        with self._atomic():
            self._store.subjects.save_subject(subject)
            self._record("subject.update", (subject_id,), fields=sorted(changes))
        self._changed()
        return subject

    def move_subject(self, subject_id: str, organisation_id: str) -> None:
        """Hand a subject to another managing organisation (administrators only)."""
        self._access.require_org(self.principal, OrgAction.MANAGE_ORGANISATIONS)
        self._present(self._store.subjects.get_subject(subject_id), "subject", subject_id)
        with self._atomic():
            self._store.organisations.set_subject_organisation(subject_id, organisation_id)
            self._record("subject.move", (subject_id,), organisation_id=organisation_id)

    # devices

    def create_device(self, device: Device) -> Device:
        self._access.require_org(self.principal, OrgAction.MANAGE_DEVICES)
        with self._atomic():
            self._absent(self._store.devices.get_device(device.id), "device", device.id)
            self._store.devices.save_device(device)
            self._record("device.create", device_id=device.id)
        self._device_registered(device.id)
        self._changed()
        return device

    def update_device(self, device_id: str, changes: Mapping[str, Any]) -> Device:
        self._access.require_org(self.principal, OrgAction.MANAGE_DEVICES)
        device = replace(
            self._present(self._store.devices.get_device(device_id), "device", device_id),
            **changes,
        )
        with self._atomic():
            self._store.devices.save_device(device)
            self._record("device.update", device_id=device_id, fields=sorted(changes))
        self._changed()
        return device

    def _forget_secret(self, device_id: str) -> None:
        if self._device_secrets is not None:
            self._device_secrets.forget(device_id)

    def set_device_secret(self, device_id: str, secret: str | None = None) -> str:
        """Set (or, given None, generate) the device's secret; returns it, once. The old
        secret stops working at once (see `rotate_device_secret` for a grace period)."""
        self._access.require_org(self.principal, OrgAction.MANAGE_DEVICES)
        self._present(self._store.devices.get_device(device_id), "device", device_id)
        secret = secret if secret else secrets.token_urlsafe(GENERATED_SECRET_BYTES)
        with self._atomic():
            self._store.devices.set_device_secret(device_id, secret, now=self._clock.now())
            self._store.device_keys.drop_previous_secret(device_id)
            self._record("device.secret_set", device_id=device_id)
        self._forget_secret(device_id)
        return secret

    def rotate_device_secret(
        self, device_id: str, *, grace: timedelta = DEFAULT_ROTATION_GRACE
    ) -> tuple[str, datetime]:
        """A new generated secret; the old one keeps working for `grace` (so the tag can be
        reconfigured). Returns the new secret (shown once) and when the old one stops."""
        self._access.require_org(self.principal, OrgAction.MANAGE_DEVICES)
        self._present(self._store.devices.get_device(device_id), "device", device_id)
        if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
            raise ValueError(f"the grace period is 0 to {MAX_ROTATION_GRACE.days} days")
        secret = secrets.token_urlsafe(GENERATED_SECRET_BYTES)
        now = self._clock.now()
        until = now + grace
        with self._atomic():
            if not self._store.device_keys.retire_device_secret(device_id, valid_until=until):
                raise NotFoundError(f"device {device_id!r} has no secret to rotate")
            self._store.devices.set_device_secret(device_id, secret, now=now)
            self._record(
                "device.secret_rotate", device_id=device_id, old_valid_until=until.isoformat()
            )
        self._forget_secret(device_id)
        return secret, until

    def revoke_device_secret(self, device_id: str) -> None:
        self._access.require_org(self.principal, OrgAction.MANAGE_DEVICES)
        self._present(self._store.devices.get_device(device_id), "device", device_id)
        with self._atomic():
            if not self._store.devices.revoke_device_secret(device_id):
                raise NotFoundError(f"device {device_id!r} has no secret")
            self._store.device_keys.drop_previous_secret(device_id)
            self._record("device.secret_revoke", device_id=device_id)
        self._forget_secret(device_id)

    # assignments

    def assign(self, assignment: Assignment) -> Assignment:
        self._may_manage(assignment.subject_id)
        self._present(
            self._store.devices.get_device(assignment.device_id), "device", assignment.device_id
        )
        self._present(
            self._store.subjects.get_subject(assignment.subject_id),
            "subject",
            assignment.subject_id,
        )
        with self._atomic():
            self._store.assignments.save_assignment(assignment)
            self._record(
                "assignment.create", (assignment.subject_id,), device_id=assignment.device_id
            )
        self._changed()
        return assignment

    def end_assignment(self, device_id: str, at: datetime | None = None) -> Assignment:
        at = at if at is not None else self._clock.now()
        current = self._store.assignments.current_assignment(device_id, at)
        current = self._present(current, "current assignment of device", device_id)
        self._access.require_record(
            self.principal, _CASE, current.subject_id, "current assignment of device", device_id
        )
        with self._atomic():
            ended = self._store.assignments.end_assignment(device_id, at=at)
            assignment = self._present(ended, "current assignment of device", device_id)
            self._record("assignment.end", (assignment.subject_id,), device_id=device_id)
        self._changed()
        return assignment

    # orders

    def create_order(self, order: Order) -> Order:
        self._refers(order.subject_id)
        _check_order(order)
        with self._atomic():
            self._absent(self._store.orders.get_order(order.id), "order", order.id)
            self._store.orders.save_order(order)
            self._record("order.create", (order.subject_id,), order_id=order.id)
        self._changed()
        return order

    def update_order(self, order_id: str, changes: Mapping[str, Any]) -> Order:
        found = self._store.orders.get_order(order_id)
        order = replace(self._existing(found, _subject, "order", order_id), **changes)
        self._refers(order.subject_id)
        _check_order(order)
        with self._atomic():
            self._store.orders.save_order(order)
            self._record("order.update", (order.subject_id,), order_id=order_id)
        self._changed()
        return order

    # zones

    def create_zone(self, zone: Zone) -> Zone:
        self._refers(zone.subject_id, zone.order_id)
        with self._atomic():
            self._absent(self._store.zones.get_zone(zone.id), "zone", zone.id)
            self._store.zones.save_zone(zone)
            self._record("zone.create", (zone.subject_id,), zone_id=zone.id)
        self._changed()
        return zone

    def update_zone(self, zone_id: str, changes: Mapping[str, Any]) -> Zone:
        found = self._store.zones.get_zone(zone_id)
        zone = replace(self._existing(found, _subject, "zone", zone_id), **changes)
        self._refers(zone.subject_id, zone.order_id)
        with self._atomic():
            self._store.zones.save_zone(zone)
            self._record("zone.update", (zone.subject_id,), zone_id=zone_id)
        self._changed()
        return zone

    def delete_zone(self, zone_id: str) -> None:
        zone = self._existing(self._store.zones.get_zone(zone_id), _subject, "zone", zone_id)
        with self._atomic():
            if not self._store.zones.delete_zone(zone_id):
                raise NotFoundError(f"no zone {zone_id!r}")
            self._record("zone.delete", (zone.subject_id,), zone_id=zone_id)
        self._changed()

    # curfews

    def create_curfew(self, curfew: Curfew) -> Curfew:
        self._refers(curfew.subject_id, curfew.order_id)
        with self._atomic():
            self._absent(self._store.curfews.get_curfew(curfew.id), "curfew", curfew.id)
            self._store.curfews.save_curfew(curfew)
            self._record("curfew.create", (curfew.subject_id,), curfew_id=curfew.id)
        self._changed()
        return curfew

    def update_curfew(self, curfew_id: str, changes: Mapping[str, Any]) -> Curfew:
        found = self._store.curfews.get_curfew(curfew_id)
        curfew = replace(self._existing(found, _subject, "curfew", curfew_id), **changes)
        self._refers(curfew.subject_id, curfew.order_id)
        with self._atomic():
            self._store.curfews.save_curfew(curfew)
            self._record("curfew.update", (curfew.subject_id,), curfew_id=curfew_id)
        self._changed()
        return curfew

    def delete_curfew(self, curfew_id: str) -> None:
        found = self._store.curfews.get_curfew(curfew_id)
        curfew = self._existing(found, _subject, "curfew", curfew_id)
        with self._atomic():
            if not self._store.curfews.delete_curfew(curfew_id):
                raise NotFoundError(f"no curfew {curfew_id!r}")
            self._record("curfew.delete", (curfew.subject_id,), curfew_id=curfew_id)
        self._changed()

    # appointments

    def create_appointment(self, appointment: Appointment) -> Appointment:
        self._refers(appointment.subject_id, appointment.order_id)
        with self._atomic():
            found = self._store.appointments.get_appointment(appointment.id)
            self._absent(found, "appointment", appointment.id)
            self._store.appointments.save_appointment(appointment)
            self._record(
                "appointment.create", (appointment.subject_id,), appointment_id=appointment.id
            )
        self._changed()
        return appointment

    def update_appointment(self, appointment_id: str, changes: Mapping[str, Any]) -> Appointment:
        found = self._store.appointments.get_appointment(appointment_id)
        existing = self._existing(found, _subject, "appointment", appointment_id)
        appointment = replace(existing, **changes)
        self._refers(appointment.subject_id, appointment.order_id)
        with self._atomic():
            self._store.appointments.save_appointment(appointment)
            self._record(
                "appointment.update", (appointment.subject_id,), appointment_id=appointment_id
            )
        self._changed()
        return appointment

    def delete_appointment(self, appointment_id: str) -> None:
        found = self._store.appointments.get_appointment(appointment_id)
        appointment = self._existing(found, _subject, "appointment", appointment_id)
        with self._atomic():
            if not self._store.appointments.delete_appointment(appointment_id):
                raise NotFoundError(f"no appointment {appointment_id!r}")
            self._record(
                "appointment.delete", (appointment.subject_id,), appointment_id=appointment_id
            )
        self._changed()

    # alert actions

    def act_on_alert(
        self,
        alert_id: str,
        action: str,
        *,
        note: str,
        outcome: AlertOutcome | str | None = None,
    ) -> Alert:
        """A workflow action on an alert of a subject within reach (audited as
        alert.<action>); see AlertService.act for the errors."""
        if self._alerts is None:
            raise RuntimeError("this AdminService was built without the alert service")
        alert = self._present(self._store.alerts.get_alert(alert_id), "alert", alert_id)
        self._access.require_record(
            self.principal, SubjectAction.WORK_ALERTS, alert.subject_id, "alert", alert_id
        )
        with self._atomic():  # the alert service's transaction nests in this one
            updated = self._alerts.act(
                alert_id, action, actor=self.principal.username, note=note, outcome=outcome
            )
            self._record(
                f"alert.{action}",
                (alert.subject_id,),
                alert_id=alert_id,
                to_state=updated.state.value,
                outcome=None if updated.outcome is None else updated.outcome.value,
            )
        return updated

    # users

    def _manages(self, user: User) -> bool:
        return (
            self.principal.organisation_kind is OrganisationKind.ADMINISTRATOR
            or user.organisation_id == self.principal.organisation_id
        )

    def _user(self, username: str) -> User:
        self._access.require_org(self.principal, OrgAction.MANAGE_USERS)
        user = self._present(self._store.users.get_user(username), "user", username)
        if not self._manages(user):
            raise NotFoundError(f"no user {username!r}")
        return user

    def _may_place_in(self, organisation_id: str) -> None:
        if organisation_id == self.principal.organisation_id:
            return
        if self.principal.organisation_kind is not OrganisationKind.ADMINISTRATOR:
            raise PermissionDenied("an admin manages the users of their own organisation only")
        if self._store.organisations.get_organisation(organisation_id) is None:
            raise MissingReferenceError(f"no organisation {organisation_id!r}")

    def create_user(
        self, username: str, password: str, role: UserRole, *, organisation_id: str | None = None
    ) -> User:
        self._access.require_org(self.principal, OrgAction.MANAGE_USERS)
        organisation_id = organisation_id or self.principal.organisation_id
        self._may_place_in(organisation_id)
        if not username.strip() or username != username.strip():
            raise ValueError("a username must not be blank nor start or end with spaces")
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with self._atomic():
            user = self._store.users.create_user(
                username, password, role, now=self._clock.now(), organisation_id=organisation_id
            )
            self._record(
                "user.create",
                username=username,
                role=user.role.value,
                organisation_id=organisation_id,
            )
        return user

    def _other_admins(self, username: str) -> int:
        return sum(
            1
            for user in self._store.users.list_users()
            if user.role is UserRole.ADMIN and user.username != username
        )

    def update_user(
        self,
        username: str,
        *,
        role: UserRole | None = None,
        password: str | None = None,
        organisation_id: str | None = None,
    ) -> User:
        user = self._user(username)
        if password is not None and len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        if organisation_id is not None and organisation_id != user.organisation_id:
            self._may_place_in(organisation_id)
        changed: list[str] = []
        with self._atomic():
            if role is not None and role is not user.role:
                if user.role is UserRole.ADMIN and not self._other_admins(username):
                    raise ConflictError("the last admin cannot lose the admin role")
                self._store.users.set_role(username, role)
                changed.append("role")
            if organisation_id is not None and organisation_id != user.organisation_id:
                self._store.users.set_organisation(username, organisation_id)
                changed.append("organisation")
            if password is not None:
                self._store.users.set_password(username, password)
                self._store.sign_ins.revoke_user_refresh_tokens(username, now=self._clock.now())
                changed.append("password")
            if changed:
                self._record("user.update", username=username, fields=changed)
        return self._present(self._store.users.get_user(username), "user", username)

    def delete_user(self, username: str) -> None:
        user = self._user(username)
        if user.role is UserRole.ADMIN and not self._other_admins(username):
            raise ConflictError("the last admin cannot be deleted")
        with self._atomic():
            self._store.users.delete_user(username)
            self._store.sign_ins.revoke_user_refresh_tokens(username, now=self._clock.now())
            self._record("user.delete", username=username)

    # organisations

    def create_organisation(
        self, organisation_id: str, name: str, kind: OrganisationKind
    ) -> Organisation:
        self._access.require_org(self.principal, OrgAction.MANAGE_ORGANISATIONS)
        if not organisation_id.strip() or not name.strip():
            raise ValueError("an organisation needs an id and a name")
        with self._atomic():
            created = self._store.organisations.create_organisation(
                organisation_id, name, kind, now=self._clock.now()
            )
            self._record("organisation.create", organisation_id=organisation_id, kind=kind.value)
        return created

    def rename_organisation(self, organisation_id: str, name: str) -> Organisation:
        self._access.require_org(self.principal, OrgAction.MANAGE_ORGANISATIONS)
        if not name.strip():
            raise ValueError("an organisation needs a name")
        with self._atomic():
            if not self._store.organisations.rename_organisation(organisation_id, name):
                raise NotFoundError(f"no organisation {organisation_id!r}")
            self._record("organisation.update", organisation_id=organisation_id)
        found = self._store.organisations.get_organisation(organisation_id)
        return self._present(found, "organisation", organisation_id)

    # sharing grants

    def grant_access(
        self,
        subject_id: str,
        grantee_organisation_id: str,
        *,
        valid_until: datetime,
        valid_from: datetime | None = None,
        reason: str = "",
    ) -> SharingGrant:
        """Let another organisation see the subject from `valid_from` (default now) until
        `valid_until` (at most MAX_GRANT later): grants are always time-limited."""
        self._access.require(self.principal, SubjectAction.SHARE, subject_id)
        now = self._clock.now()
        start = valid_from if valid_from is not None else now
        if valid_until <= start:
            raise ValueError("a sharing grant must end after it starts")
        if valid_until - start > MAX_GRANT:
            raise ValueError(f"a sharing grant lasts at most {MAX_GRANT.days} days")
        if self._store.organisations.get_organisation(grantee_organisation_id) is None:
            raise MissingReferenceError(f"no organisation {grantee_organisation_id!r}")
        if grantee_organisation_id == self._store.organisations.subject_organisation(subject_id):
            raise ValueError("the managing organisation sees its subjects without a grant")
        grant = SharingGrant(
            id=new_id(),
            subject_id=subject_id,
            grantee_organisation_id=grantee_organisation_id,
            granted_by=self.principal.username,
            valid_from=start,
            valid_until=valid_until,
            reason=reason,
            created_at=now,
        )
        with self._atomic():
            created = self._store.grants.create_grant(grant)
            self._record(
                "grant.create",
                (subject_id,),
                grant_id=created.id,
                grantee_organisation_id=grantee_organisation_id,
                valid_from=start.isoformat(),
                valid_until=valid_until.isoformat(),
            )
        return created

    def revoke_grant(self, grant_id: str) -> SharingGrant:
        grant = self._present(self._store.grants.get_grant(grant_id), "sharing grant", grant_id)
        self._access.require_record(
            self.principal, SubjectAction.SHARE, grant.subject_id, "sharing grant", grant_id
        )
        with self._atomic():
            revoked = self._store.grants.revoke_grant(grant_id, at=self._clock.now())
            self._record("grant.revoke", (grant.subject_id,), grant_id=grant_id)
        return revoked


def _subject(record: Order | Zone | Curfew | Appointment) -> str:
    return record.subject_id


def _check_order(order: Order) -> None:
    if order.start.tzinfo is None or (order.end is not None and order.end.tzinfo is None):
        raise ValueError("an order's start and end must be time-zone aware")
    if order.end is not None and order.end <= order.start:
        raise ValueError("an order must end after it starts")
