"""The repository contract every store implements (SQLite today, PostgreSQL/PostGIS next).

A `Store` is opened once by `bootstrap` and shared. Its repositories can be used directly:
each read sees the latest committed data and each write is its own transaction. For
atomic work, `with store.transaction() as tx:` gives the same repositories inside one
transaction; there is one writer at a time, and the monitor commits everything of a batch
(fixes, device events, episodes, alerts, alert history, inbox marks) in one transaction
before acknowledging the log. An exception inside the block rolls everything back. A
transaction opened inside another on the same thread nests (a savepoint) and commits with
the outer one. Inside the block use `tx`, not the store. `with store.snapshot() as view:`
gives a consistent read-only view.

The store is synchronous: call it from worker threads and never hold a transaction across
an `await`.

Semantics every implementation keeps (the contract tests in tests/contract check them):

- Instants go in time-zone aware (a naive datetime raises ValueError) and come out aware in
  UTC. Fix and device-event times are kept to whole milliseconds (truncated on write, and
  that truncated time is the idempotency key); every other instant keeps microseconds.
- Time ranges `start, end` include both ends, except assignment and order ranges, which are
  half-open `[start, end)` as in the domain.
- `save_*` inserts or updates by identity; related records must exist first
  (MissingReferenceError). `add_fixes`/`add_device_events` are idempotent and return how
  many records were new.
- Lists come back in a stated, deterministic order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import EngineSettings, RuleBook
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.store.records import (
    Alert,
    AlertAction,
    AlertDraft,
    AlertOutcome,
    AlertPage,
    AlertSeverity,
    AlertState,
    AlertUpsert,
    DeviceCredential,
    NearbyFix,
    User,
    UserRole,
)


class SubjectRepository(Protocol):
    def save_subject(self, subject: Subject) -> None: ...
    def get_subject(self, subject_id: str) -> Subject | None: ...
    def list_subjects(self) -> list[Subject]:
        """Ordered by id."""
        ...


class DeviceRepository(Protocol):
    def save_device(self, device: Device) -> None: ...
    def get_device(self, device_id: str) -> Device | None: ...
    def list_devices(self) -> list[Device]:
        """Ordered by id."""
        ...

    def set_device_secret(self, device_id: str, secret: str, *, now: datetime) -> None:
        """Replace the device's secret; only an Argon2 hash is stored."""
        ...

    def verify_device_secret(self, device_id: str, secret: str) -> bool:
        """False for a wrong secret, an unknown device or a device without a secret."""
        ...

    def device_credential(self, device_id: str) -> DeviceCredential | None: ...
    def revoke_device_secret(self, device_id: str) -> bool:
        """True if there was a secret to revoke."""
        ...


class AssignmentRepository(Protocol):
    def save_assignment(self, assignment: Assignment) -> None:
        """Insert or update by (device_id, start).

        ConflictError if it overlaps another assignment of the same device.
        """
        ...

    def end_assignment(self, device_id: str, *, at: datetime) -> Assignment | None:
        """End the device's assignment current at `at` (its end becomes `at`)."""
        ...

    def current_assignment(self, device_id: str, at: datetime) -> Assignment | None: ...
    def list_assignments(
        self,
        *,
        device_id: str | None = None,
        subject_id: str | None = None,
        at: datetime | None = None,
    ) -> list[Assignment]:
        """Filtered by whichever are given (`at`: covering that instant); by device, start."""
        ...


class OrderRepository(Protocol):
    def save_order(self, order: Order) -> None: ...
    def get_order(self, order_id: str) -> Order | None: ...
    def list_orders(self, *, subject_id: str | None = None) -> list[Order]:
        """Ordered by subject, start, id."""
        ...


class ZoneRepository(Protocol):
    def save_zone(self, zone: Zone) -> None: ...
    def get_zone(self, zone_id: str) -> Zone | None: ...
    def list_zones(self, *, subject_id: str | None = None) -> list[Zone]:
        """Ordered by subject, id."""
        ...

    def delete_zone(self, zone_id: str) -> bool: ...


class CurfewRepository(Protocol):
    def save_curfew(self, curfew: Curfew) -> None: ...
    def get_curfew(self, curfew_id: str) -> Curfew | None: ...
    def list_curfews(self, *, subject_id: str | None = None) -> list[Curfew]:
        """Ordered by subject, id."""
        ...

    def delete_curfew(self, curfew_id: str) -> bool: ...


class AppointmentRepository(Protocol):
    def save_appointment(self, appointment: Appointment) -> None: ...
    def get_appointment(self, appointment_id: str) -> Appointment | None: ...
    def list_appointments(
        self, *, subject_id: str | None = None, ending_after: datetime | None = None
    ) -> list[Appointment]:
        """Ordered by start, id; `ending_after`: only those with end >= it."""
        ...

    def delete_appointment(self, appointment_id: str) -> bool: ...


class FixRepository(Protocol):
    def add_fixes(self, fixes: Iterable[Fix]) -> int:
        """Store fixes; a (device_id, fix_time) already stored is ignored and not counted.

        The first fix stored for a key wins, even if a later one differs.
        """
        ...

    def trail(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        subject_id: str | None = None,
        valid_only: bool = False,
        limit: int | None = None,
    ) -> list[Fix]:
        """Fixes with start <= fix_time <= end, ordered by (fix_time, device_id).

        Give exactly one of `device_ids` or `subject_id`; a subject's trail is the fixes of
        the devices assigned to them, each only while it was assigned.
        """
        ...

    def latest_fixes(
        self, device_ids: Sequence[str] | None = None, *, valid_only: bool = False
    ) -> dict[str, Fix]:
        """The fix with the greatest fix_time of each device (all devices if None)."""
        ...

    def fixes_near(
        self, lon: float, lat: float, radius_m: float, start: datetime, end: datetime
    ) -> list[NearbyFix]:
        """Valid fixes whose centre is within `radius_m` (great circle) of the point and
        whose time is within [start, end]: crime-scene correlation. Ordered by
        (fix_time, device_id). Distances agree across implementations to 0.5 %.
        """
        ...

    def count_fixes(
        self,
        *,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int: ...

    def drop_fixes_before(self, cutoff: datetime) -> int:
        """Retention: delete whole time partitions that end at or before `cutoff`.

        Fixes at or after `cutoff` are never removed; some before it may stay until their
        whole partition is old enough. Returns how many fixes were removed.
        """
        ...


class DeviceEventRepository(Protocol):
    def add_device_events(self, events: Iterable[DeviceEvent]) -> int:
        """Idempotent on (device_id, time, kind); returns how many were new."""
        ...

    def list_device_events(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        kinds: Collection[DeviceEventKind] | None = None,
        limit: int | None = None,
    ) -> list[DeviceEvent]:
        """start <= time <= end, ordered by (time, device_id, kind)."""
        ...

    def count_device_events(self) -> int: ...


class EpisodeRepository(Protocol):
    def upsert_episodes(self, episodes: Iterable[Episode]) -> None:
        """Insert or replace by Episode.id (an update never duplicates); clears a retraction."""
        ...

    def get_episode(self, episode_id: str) -> Episode | None:
        """Also returns a retracted episode (see `episode_retracted_at`)."""
        ...

    def open_episodes(
        self, *, subject_id: str | None = None, device_id: str | None = None
    ) -> list[Episode]:
        """Episodes without an end, not retracted; ordered by (start, id)."""
        ...

    def list_episodes(
        self,
        *,
        subject_id: str | None = None,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        rules: Collection[RuleKind] | None = None,
        include_retracted: bool = False,
    ) -> list[Episode]:
        """Episodes overlapping [start, end] (an open one reaches to now); by (start, id)."""
        ...

    def retract_episode(self, episode_id: str, *, at: datetime) -> bool:
        """Late data showed it did not happen: kept for the record, left out of lists."""
        ...

    def episode_retracted_at(self, episode_id: str) -> datetime | None: ...


class AlertRepository(Protocol):
    def upsert_alert_for_episode(
        self, draft: AlertDraft, *, now: datetime, replaces: Sequence[str] = ()
    ) -> AlertUpsert:
        """Create the episode's alert (state NEW) or update the facts of the existing one.

        If the episode has no alert but one of the episodes it `replaces` has, that alert
        moves to this episode, keeping its id, state and history. On update, the workflow
        fields (state, outcome, ack_deadline, created_at) are kept, and `detected_at`/
        `late` stay those of the earliest detection.
        """
        ...

    def get_alert(self, alert_id: str) -> Alert | None: ...
    def alert_for_episode(self, episode_id: str) -> Alert | None: ...
    def update_alert_state(
        self,
        alert_id: str,
        *,
        state: AlertState,
        now: datetime,
        outcome: AlertOutcome | None = None,
        ack_deadline: datetime | None = None,
        expected_state: AlertState | None = None,
    ) -> Alert:
        """Persist a transition the service has judged legal.

        `outcome`/`ack_deadline` None leaves them unchanged. NotFoundError for an unknown
        alert; ConflictError if `expected_state` is given and the alert is in another state.
        """
        ...

    def list_alerts(
        self,
        *,
        states: Collection[AlertState] | None = None,
        severities: Collection[AlertSeverity] | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AlertPage:
        """Newest first by (created_at, id); `since` filters created_at >= since.

        `cursor` is the opaque `next_cursor` of the previous page (keyset pagination, so
        pages neither skip nor repeat alerts while new ones arrive).
        """
        ...

    def overdue_alerts(self, now: datetime) -> list[Alert]:
        """NEW or ESCALATED alerts whose ack_deadline <= now, by (ack_deadline, id)."""
        ...


class AlertHistoryRepository(Protocol):
    def append_alert_action(
        self,
        alert_id: str,
        *,
        action: str,
        at: datetime,
        actor: str,
        from_state: AlertState | None = None,
        to_state: AlertState | None = None,
        note: str = "",
    ) -> AlertAction: ...

    def alert_history(self, alert_id: str) -> list[AlertAction]:
        """Ordered by (at, id)."""
        ...

    def alert_actions_after(self, after_id: int, *, limit: int = 100) -> list[AlertAction]:
        """Every alert's actions with id > after_id, by id: a feed to tail (SSE, notifier)."""
        ...


class UserRepository(Protocol):
    def create_user(self, username: str, password: str, role: UserRole, *, now: datetime) -> User:
        """ConflictError if the username is taken. Only an Argon2 hash is stored."""
        ...

    def get_user(self, username: str) -> User | None: ...
    def list_users(self) -> list[User]:
        """Ordered by username."""
        ...

    def verify_password(self, username: str, password: str) -> User | None:
        """The user if the password is right; None otherwise (also for unknown users)."""
        ...

    def set_password(self, username: str, password: str) -> bool: ...
    def set_role(self, username: str, role: UserRole) -> bool: ...
    def delete_user(self, username: str) -> bool: ...


class UnitOfWork(Protocol):
    """The repositories, bound to one transaction (or, on a Store, to autocommit)."""

    @property
    def subjects(self) -> SubjectRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def assignments(self) -> AssignmentRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def zones(self) -> ZoneRepository: ...
    @property
    def curfews(self) -> CurfewRepository: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def fixes(self) -> FixRepository: ...
    @property
    def device_events(self) -> DeviceEventRepository: ...
    @property
    def episodes(self) -> EpisodeRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...
    @property
    def alert_history(self) -> AlertHistoryRepository: ...
    @property
    def users(self) -> UserRepository: ...

    def rule_book(self, at: datetime, *, settings: EngineSettings | None = None) -> RuleBook:
        """What the engine checks at `at` (see tagwatch.store.rulebook)."""
        ...


class Store(UnitOfWork, Protocol):
    def open(self) -> None:
        """Connect and bring the schema up to date (applying pending migrations)."""
        ...

    def close(self) -> None: ...
    def schema_version(self) -> int: ...
    def transaction(self) -> AbstractContextManager[UnitOfWork]: ...
    def snapshot(self) -> AbstractContextManager[UnitOfWork]: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc_info: object) -> None: ...
