"""Reads the API and the dashboard need, scoped to who asks, with location reads audited.

A `Queries` is bound to one `Principal` (the API makes one per request): every list is
filtered to the subjects the principal may read (tagwatch.service.access), every record
outside their reach is a NotFoundError exactly like a missing one, and every read of
location data (latest positions, trails, exports, proximity searches) writes an audit
record before the data is returned. Trails, exports and searches need a stated `Purpose`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tagwatch.domain.episodes import Episode
from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.positions import Fix
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.service import workflow
from tagwatch.service.access import AccessPolicy, OrgAction, Principal, Relation, SubjectAction
from tagwatch.service.audit import AuditTrail, Purpose, PurposeRequired
from tagwatch.service.clock import Clock
from tagwatch.store.contract import Store
from tagwatch.store.errors import NotFoundError
from tagwatch.store.records import (
    Alert,
    AlertAction,
    AlertPage,
    AlertSeverity,
    AlertState,
    DeviceCredential,
    NearbyFix,
    Organisation,
    OrganisationKind,
    SharingGrant,
    User,
)

T = TypeVar("T")

MAX_TRAIL_FIXES = 200_000  # one device reporting every 5 s for 11 days
MAX_TRAIL_SPAN = timedelta(days=93)
MAX_ALERT_PAGE = 500
MAX_SEARCH_RADIUS_M = 50_000.0
MAX_SEARCH_SPAN = timedelta(days=31)
MAX_SEARCH_FIXES = 10_000

_READ = SubjectAction.READ_RECORDS


@dataclass(frozen=True, slots=True)
class Position:
    """The latest fix of a device and whom it is fitted to now."""

    fix: Fix
    subject_id: str | None


@dataclass(frozen=True, slots=True)
class AlertDetail:
    alert: Alert
    history: tuple[AlertAction, ...]
    episode: Episode | None
    allowed_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    device: Device
    credential: DeviceCredential | None
    assignment: Assignment | None


def count_alerts(store: Store, state: AlertState, *, page: int = MAX_ALERT_PAGE) -> int:
    """How many alerts are in `state`, system-wide (for metrics; pages through the list)."""
    total, cursor = 0, None
    while True:
        found = store.alerts.list_alerts(states={state}, limit=page, cursor=cursor)
        total += len(found.alerts)
        cursor = found.next_cursor
        if cursor is None:
            return total


def need_purpose(action: str, purpose: Purpose | None) -> Purpose:
    if purpose is None or not purpose.text:
        raise PurposeRequired(
            f"{action} needs a stated purpose: purpose_code (investigation, safeguarding,"
            " court_evidence, breach_response, monitoring, audit_review or other) and"
            " purpose (free text, e.g. a case or incident reference)"
        )
    return purpose


class Queries:
    def __init__(self, store: Store, clock: Clock, audit: AuditTrail, principal: Principal) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._access = AccessPolicy(store, clock)
        self.principal = principal

    @staticmethod
    def _found(record: T | None, kind: str, key: str) -> T:
        if record is None:
            raise NotFoundError(f"no {kind} {key!r}")
        return record

    def _readable(self, action: SubjectAction = _READ) -> frozenset[str] | None:
        """Subjects the principal may do `action` to (None: all); 403 if none ever."""
        return self._access.scope(self.principal).subject_filter(action)

    def _check(self, subject_id: str, kind: str, key: str, action: SubjectAction = _READ) -> None:
        self._access.require_record(self.principal, action, subject_id, kind, key)

    def _keep(self, records: list[T], subject_of: Callable[[T], str]) -> list[T]:
        allowed = self._readable()
        return records if allowed is None else [r for r in records if subject_of(r) in allowed]

    # people and devices

    def subjects(self) -> list[Subject]:
        return self._keep(self._store.subjects.list_subjects(), lambda s: s.id)

    def subject(self, subject_id: str) -> Subject:
        self._check(subject_id, "subject", subject_id)
        return self._found(self._store.subjects.get_subject(subject_id), "subject", subject_id)

    def subject_organisation(self, subject_id: str) -> str:
        self._check(subject_id, "subject", subject_id)
        found = self._store.organisations.subject_organisation(subject_id)
        return self._found(found, "subject", subject_id)

    def _check_device(self, device_id: str, at: datetime) -> None:
        """A device is read with the subject it is fitted to at `at`; one fitted to nobody
        only with national reach (as a record of no subject's)."""
        current = self._store.assignments.current_assignment(device_id, at)
        if current is not None:
            self._check(current.subject_id, "device", device_id)
        elif not self.principal.national:
            raise NotFoundError(f"no device {device_id!r}")
        elif not self.principal.may_ever(_READ):
            self._readable()  # PermissionDenied, naming the role

    def devices(self) -> list[Device]:
        """Every device for national reach; otherwise those fitted now to readable subjects."""
        devices = self._store.devices.list_devices()
        allowed = self._readable()
        if allowed is None:
            return devices
        fitted = {
            a.device_id
            for a in self._store.assignments.list_assignments(at=self._clock.now())
            if a.subject_id in allowed
        }
        return [device for device in devices if device.id in fitted]

    def device(self, device_id: str, *, at: datetime) -> DeviceDetail:
        self._check_device(device_id, at)
        device = self._found(self._store.devices.get_device(device_id), "device", device_id)
        return DeviceDetail(
            device,
            self._store.devices.device_credential(device_id),
            self._store.assignments.current_assignment(device_id, at),
        )

    def assignments(
        self,
        *,
        device_id: str | None = None,
        subject_id: str | None = None,
        at: datetime | None = None,
    ) -> list[Assignment]:
        found = self._store.assignments.list_assignments(
            device_id=device_id, subject_id=subject_id, at=at
        )
        return self._keep(found, lambda a: a.subject_id)

    def orders(self, *, subject_id: str | None = None) -> list[Order]:
        return self._keep(self._store.orders.list_orders(subject_id=subject_id), _subject)

    def order(self, order_id: str) -> Order:
        order = self._found(self._store.orders.get_order(order_id), "order", order_id)
        self._check(order.subject_id, "order", order_id)
        return order

    # requirements

    def zones(self, *, subject_id: str | None = None) -> list[Zone]:
        return self._keep(self._store.zones.list_zones(subject_id=subject_id), _subject)

    def zone(self, zone_id: str) -> Zone:
        zone = self._found(self._store.zones.get_zone(zone_id), "zone", zone_id)
        self._check(zone.subject_id, "zone", zone_id)
        return zone

    def curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        return self._keep(self._store.curfews.list_curfews(subject_id=subject_id), _subject)

    def curfew(self, curfew_id: str) -> Curfew:
        curfew = self._found(self._store.curfews.get_curfew(curfew_id), "curfew", curfew_id)
        self._check(curfew.subject_id, "curfew", curfew_id)
        return curfew

    def appointments(self, *, subject_id: str | None = None) -> list[Appointment]:
        found = self._store.appointments.list_appointments(subject_id=subject_id)
        return self._keep(found, _subject)

    def appointment(self, appointment_id: str) -> Appointment:
        found = self._store.appointments.get_appointment(appointment_id)
        appointment = self._found(found, "appointment", appointment_id)
        self._check(appointment.subject_id, "appointment", appointment_id)
        return appointment

    # positions: location data, every read audited

    def latest_positions(self, *, at: datetime, subject_id: str | None = None) -> list[Position]:
        """Each visible device's latest fix (valid or not), with whom it is fitted to at `at`.

        Without national reach, only devices fitted now to subjects the principal may see
        live; a device fitted to nobody is seen only with national reach.
        """
        fitted = {
            a.device_id: a.subject_id for a in self._store.assignments.list_assignments(at=at)
        }
        allowed = self._readable(SubjectAction.READ_LIVE)
        if subject_id is not None:
            self._check(subject_id, "subject", subject_id, SubjectAction.READ_LIVE)
            self._found(self._store.subjects.get_subject(subject_id), "subject", subject_id)
            devices = [device for device, subject in fitted.items() if subject == subject_id]
            latest = self._store.fixes.latest_fixes(devices) if devices else {}
        elif allowed is None:
            latest = self._store.fixes.latest_fixes()
        else:
            devices = [device for device, subject in fitted.items() if subject in allowed]
            latest = self._store.fixes.latest_fixes(devices) if devices else {}
        found = [Position(latest[device], fitted.get(device)) for device in sorted(latest)]
        self._audit.record(
            self.principal.audit_context,
            "position.read",
            subject_ids=sorted({p.subject_id for p in found if p.subject_id is not None}),
            detail={"devices": len(found), "subject_filter": subject_id},
        )
        return found

    def trail(
        self,
        subject_id: str,
        *,
        start: datetime,
        end: datetime,
        purpose: Purpose | None,
        valid_only: bool = False,
        export_format: str | None = None,
    ) -> list[Fix]:
        """The subject's fixes in [start, end], read for a stated purpose (audited as
        trail.read, or export.read when `export_format` says the fixes leave as a file).

        ValueError for a reversed or too long range; PurposeRequired without a purpose.
        """
        action = "trail.read" if export_format is None else "export.read"
        purpose = need_purpose(action, purpose)
        self._check(subject_id, "subject", subject_id, SubjectAction.READ_HISTORY)
        self._found(self._store.subjects.get_subject(subject_id), "subject", subject_id)
        if end < start:
            raise ValueError("the trail's end is before its start")
        if end - start > MAX_TRAIL_SPAN:
            raise ValueError(f"a trail spans at most {MAX_TRAIL_SPAN.days} days")
        fixes = self._store.fixes.trail(
            start=start,
            end=end,
            subject_id=subject_id,
            valid_only=valid_only,
            limit=MAX_TRAIL_FIXES + 1,
        )
        if len(fixes) > MAX_TRAIL_FIXES:
            raise ValueError(
                f"more than {MAX_TRAIL_FIXES} fixes in that range: ask for a shorter one"
            )
        detail: dict[str, object] = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "fixes": len(fixes),
            "valid_only": valid_only,
        }
        if export_format is not None:
            detail["format"] = export_format
        self._audit.record(
            self.principal.audit_context,
            action,
            subject_ids=[subject_id],
            purpose=purpose,
            detail=detail,
        )
        return fixes

    def fixes_near(
        self,
        *,
        lon: float,
        lat: float,
        radius_m: float,
        start: datetime,
        end: datetime,
        purpose: Purpose | None,
    ) -> list[NearbyFix]:
        """Valid fixes within `radius_m` of a point in [start, end] (crime-scene correlation),
        of the subjects the principal may read history of; audited as search.near.

        A fix of a device fitted to nobody at the time is only found with national reach.
        """
        purpose = need_purpose("search.near", purpose)
        allowed = self._readable(SubjectAction.READ_HISTORY)
        if not 0 < radius_m <= MAX_SEARCH_RADIUS_M:
            raise ValueError(f"the radius must be over 0 and at most {MAX_SEARCH_RADIUS_M:.0f} m")
        if end < start:
            raise ValueError("the search's end is before its start")
        if end - start > MAX_SEARCH_SPAN:
            raise ValueError(f"a search spans at most {MAX_SEARCH_SPAN.days} days")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError("lon must be within [-180, 180] and lat within [-90, 90]")
        found = self._store.fixes.fixes_near(lon, lat, radius_m, start, end)
        if allowed is not None:
            found = [hit for hit in found if hit.subject_id in allowed]
        if len(found) > MAX_SEARCH_FIXES:
            raise ValueError(
                f"more than {MAX_SEARCH_FIXES} fixes match: narrow the radius or the time"
            )
        self._audit.record(
            self.principal.audit_context,
            "search.near",
            subject_ids=sorted({hit.subject_id for hit in found if hit.subject_id is not None}),
            purpose=purpose,
            detail={
                "lon": lon,
                "lat": lat,
                "radius_m": radius_m,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "fixes": len(found),
            },
        )
        return found

    # alerts

    def alerts(
        self,
        *,
        states: Collection[AlertState] | None = None,
        severities: Collection[AlertSeverity] | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AlertPage:
        """Newest first, only alerts of readable subjects.

        Without national reach the store is asked for what is still missing from the page,
        repeatedly, so the returned `next_cursor` is the store's cursor after the last
        alert examined: pages neither skip nor repeat alerts.
        """
        if not 1 <= limit <= MAX_ALERT_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_ALERT_PAGE}")
        allowed = self._readable()

        def page(size: int, after: str | None) -> AlertPage:
            return self._store.alerts.list_alerts(
                states=states or None,
                severities=severities or None,
                subject_id=subject_id,
                since=since,
                limit=size,
                cursor=after,
            )

        if allowed is None:
            return page(limit, cursor)
        if (subject_id is not None and subject_id not in allowed) or not allowed:
            return AlertPage((), None)
        kept: list[Alert] = []
        while True:
            found = page(limit - len(kept), cursor)
            kept += [alert for alert in found.alerts if alert.subject_id in allowed]
            cursor = found.next_cursor
            if cursor is None or len(kept) == limit:
                return AlertPage(tuple(kept), cursor)

    def alert(self, alert_id: str) -> AlertDetail:
        with self._store.snapshot():
            alert = self._found(self._store.alerts.get_alert(alert_id), "alert", alert_id)
            history = tuple(self._store.alert_history.alert_history(alert_id))
            episode = self._store.episodes.get_episode(alert.episode_id)
        self._check(alert.subject_id, "alert", alert_id)
        relation = self._access.relation(self.principal, alert.subject_id)
        allowed: tuple[workflow.AlertAction, ...] = ()
        if self.principal.may(SubjectAction.WORK_ALERTS, relation):
            allowed = workflow.allowed_actions(workflow.AlertState(alert.state.value))
        return AlertDetail(alert, history, episode, tuple(action.value for action in allowed))

    # users, organisations, grants

    def users(self) -> list[User]:
        self._access.require_org(self.principal, OrgAction.MANAGE_USERS)
        if self.principal.organisation_kind is OrganisationKind.ADMINISTRATOR:
            return self._store.users.list_users()
        return self._store.users.list_users(organisation_id=self.principal.organisation_id)

    def user(self, username: str) -> User:
        self._access.require_org(self.principal, OrgAction.MANAGE_USERS)
        user = self._found(self._store.users.get_user(username), "user", username)
        if not _manages_user(self.principal, user):
            raise NotFoundError(f"no user {username!r}")
        return user

    def organisations(self) -> list[Organisation]:
        """Every organisation: names and kinds are not personal data, and a grant needs one."""
        return self._store.organisations.list_organisations()

    def organisation(self, organisation_id: str) -> Organisation:
        found = self._store.organisations.get_organisation(organisation_id)
        return self._found(found, "organisation", organisation_id)

    def grants(self, *, subject_id: str | None = None) -> list[SharingGrant]:
        """Grants of subjects the principal may read, and grants to their organisation."""
        grants = self._store.grants.list_grants(subject_id=subject_id)
        allowed = self._readable()
        if allowed is None:
            return grants
        mine = self.principal.organisation_id
        return [g for g in grants if g.subject_id in allowed or g.grantee_organisation_id == mine]

    def grant(self, grant_id: str) -> SharingGrant:
        found = self._found(self._store.grants.get_grant(grant_id), "sharing grant", grant_id)
        if found.grantee_organisation_id != self.principal.organisation_id:
            self._check(found.subject_id, "sharing grant", grant_id)
        return found

    def relation(self, subject_id: str) -> Relation:
        return self._access.relation(self.principal, subject_id)


def _subject(record: Order | Zone | Curfew | Appointment) -> str:
    return record.subject_id


def _manages_user(principal: Principal, user: User) -> bool:
    return (
        principal.organisation_kind is OrganisationKind.ADMINISTRATOR
        or user.organisation_id == principal.organisation_id
    )
