"""Reads the API and the dashboard need: records, latest positions, trails, alerts.

Everything here is read-only; a missing record is a NotFoundError so every caller reports
it the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tagwatch.domain.episodes import Episode
from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.positions import Fix
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.service import workflow
from tagwatch.store.contract import Store
from tagwatch.store.errors import NotFoundError
from tagwatch.store.records import (
    Alert,
    AlertAction,
    AlertPage,
    AlertSeverity,
    AlertState,
    DeviceCredential,
    User,
)

T = TypeVar("T")

MAX_TRAIL_FIXES = 200_000  # one device reporting every 5 s for 11 days
MAX_TRAIL_SPAN = timedelta(days=93)
MAX_ALERT_PAGE = 500


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


class Queries:
    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _found(record: T | None, kind: str, key: str) -> T:
        if record is None:
            raise NotFoundError(f"no {kind} {key!r}")
        return record

    # people and devices

    def subjects(self) -> list[Subject]:
        return self._store.subjects.list_subjects()

    def subject(self, subject_id: str) -> Subject:
        return self._found(self._store.subjects.get_subject(subject_id), "subject", subject_id)

    def devices(self) -> list[Device]:
        return self._store.devices.list_devices()

    def device(self, device_id: str, *, at: datetime) -> DeviceDetail:
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
        return self._store.assignments.list_assignments(
            device_id=device_id, subject_id=subject_id, at=at
        )

    def orders(self, *, subject_id: str | None = None) -> list[Order]:
        return self._store.orders.list_orders(subject_id=subject_id)

    def order(self, order_id: str) -> Order:
        return self._found(self._store.orders.get_order(order_id), "order", order_id)

    # requirements

    def zones(self, *, subject_id: str | None = None) -> list[Zone]:
        return self._store.zones.list_zones(subject_id=subject_id)

    def zone(self, zone_id: str) -> Zone:
        return self._found(self._store.zones.get_zone(zone_id), "zone", zone_id)

    def curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        return self._store.curfews.list_curfews(subject_id=subject_id)

    def curfew(self, curfew_id: str) -> Curfew:
        return self._found(self._store.curfews.get_curfew(curfew_id), "curfew", curfew_id)

    def appointments(self, *, subject_id: str | None = None) -> list[Appointment]:
        return self._store.appointments.list_appointments(subject_id=subject_id)

    def appointment(self, appointment_id: str) -> Appointment:
        found = self._store.appointments.get_appointment(appointment_id)
        return self._found(found, "appointment", appointment_id)

    # positions

    def latest_positions(self, *, at: datetime, subject_id: str | None = None) -> list[Position]:
        """Each device's latest fix (valid or not), with the subject it is fitted to at `at`."""
        fitted = {
            a.device_id: a.subject_id for a in self._store.assignments.list_assignments(at=at)
        }
        if subject_id is not None:
            self.subject(subject_id)
            devices = [device for device, subject in fitted.items() if subject == subject_id]
            latest = self._store.fixes.latest_fixes(devices) if devices else {}
        else:
            latest = self._store.fixes.latest_fixes()
        return [Position(latest[device], fitted.get(device)) for device in sorted(latest)]

    def trail(
        self, subject_id: str, *, start: datetime, end: datetime, valid_only: bool = False
    ) -> list[Fix]:
        """The subject's fixes in [start, end]; ValueError for a reversed or too long range."""
        self.subject(subject_id)
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
        return fixes

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
        if not 1 <= limit <= MAX_ALERT_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_ALERT_PAGE}")
        return self._store.alerts.list_alerts(
            states=states or None,
            severities=severities or None,
            subject_id=subject_id,
            since=since,
            limit=limit,
            cursor=cursor,
        )

    def alert(self, alert_id: str) -> AlertDetail:
        with self._store.snapshot():
            alert = self._found(self._store.alerts.get_alert(alert_id), "alert", alert_id)
            history = tuple(self._store.alert_history.alert_history(alert_id))
            episode = self._store.episodes.get_episode(alert.episode_id)
        allowed = workflow.allowed_actions(workflow.AlertState(alert.state.value))
        return AlertDetail(alert, history, episode, tuple(action.value for action in allowed))

    def count_alerts(self, state: AlertState, *, page: int = MAX_ALERT_PAGE) -> int:
        """How many alerts are in `state` (pages through the list: the contract has no count)."""
        total, cursor = 0, None
        while True:
            found = self._store.alerts.list_alerts(states={state}, limit=page, cursor=cursor)
            total += len(found.alerts)
            cursor = found.next_cursor
            if cursor is None:
                return total

    # users

    def users(self) -> list[User]:
        return self._store.users.list_users()

    def user(self, username: str) -> User:
        return self._found(self._store.users.get_user(username), "user", username)
