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

from tagwatch.domain.commands import DeviceCommand
from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.people import Assignment, Device, Order, Subject
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import EngineSettings, RuleBook
from tagwatch.domain.zones import Appointment, Curfew, Zone
from tagwatch.store.audit_chain import (
    AuditCheckpoint,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainReport,
)
from tagwatch.store.holds import FixPurge, FixSpan, LegalHold, LegalHoldDraft
from tagwatch.store.records import (
    DEFAULT_ORGANISATION_ID,
    Alert,
    AlertAction,
    AlertDraft,
    AlertOutcome,
    AlertPage,
    AlertSeverity,
    AlertState,
    AlertUpsert,
    DeviceCredential,
    LoginFailures,
    NearbyFix,
    Organisation,
    OrganisationKind,
    RefreshTokenUse,
    SharingGrant,
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
    def create_user(
        self,
        username: str,
        password: str,
        role: UserRole,
        *,
        now: datetime,
        organisation_id: str = DEFAULT_ORGANISATION_ID,
    ) -> User:
        """ConflictError if the username is taken, MissingReferenceError for an unknown
        organisation. Only an Argon2 hash is stored."""
        ...

    def get_user(self, username: str) -> User | None: ...
    def list_users(self, *, organisation_id: str | None = None) -> list[User]:
        """Ordered by username (only the organisation's members, if given)."""
        ...

    def set_organisation(self, username: str, organisation_id: str) -> bool:
        """MissingReferenceError for an unknown organisation; False for an unknown user."""
        ...

    def verify_password(self, username: str, password: str) -> User | None:
        """The user if the password is right; None otherwise (also for unknown users)."""
        ...

    def set_password(self, username: str, password: str) -> bool: ...
    def set_role(self, username: str, role: UserRole) -> bool: ...
    def delete_user(self, username: str) -> bool: ...


class OrganisationRepository(Protocol):
    """Organisations, and each subject's managing organisation (a new subject is managed by
    DEFAULT_ORGANISATION_ID until `set_subject_organisation` says otherwise)."""

    def create_organisation(
        self, organisation_id: str, name: str, kind: OrganisationKind, *, now: datetime
    ) -> Organisation:
        """ConflictError if the id is taken."""
        ...

    def rename_organisation(self, organisation_id: str, name: str) -> bool: ...
    def get_organisation(self, organisation_id: str) -> Organisation | None: ...
    def list_organisations(self) -> list[Organisation]:
        """Ordered by id."""
        ...

    def set_subject_organisation(self, subject_id: str, organisation_id: str) -> None:
        """MissingReferenceError for an unknown subject or organisation."""
        ...

    def subject_organisation(self, subject_id: str) -> str | None: ...
    def subject_organisations(self, subject_ids: Collection[str] | None = None) -> dict[str, str]:
        """Subject id -> managing organisation id (every subject if None)."""
        ...

    def managed_subjects(self, organisation_id: str) -> list[str]:
        """Ordered ids of the subjects the organisation manages."""
        ...


class GrantRepository(Protocol):
    """Time-limited sharing grants of one subject to another organisation."""

    def create_grant(self, grant: SharingGrant) -> SharingGrant:
        """ConflictError for a taken id, MissingReferenceError for an unknown subject or
        organisation, ValueError if it does not end after it starts."""
        ...

    def get_grant(self, grant_id: str) -> SharingGrant | None: ...
    def list_grants(
        self,
        *,
        subject_id: str | None = None,
        grantee_organisation_id: str | None = None,
        active_at: datetime | None = None,
    ) -> list[SharingGrant]:
        """Ordered by (valid_from, id); `active_at`: in force and not revoked then."""
        ...

    def granted_subjects(self, organisation_id: str, at: datetime) -> set[str]: ...
    def revoke_grant(self, grant_id: str, *, at: datetime) -> SharingGrant:
        """NotFoundError for an unknown grant; revoking twice keeps the first revocation."""
        ...


class SignInRepository(Protocol):
    """Refresh tokens (only hashes are given and kept) and failed sign-ins per username."""

    def add_refresh_token(
        self,
        token_hash: str,
        *,
        username: str,
        family: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None: ...
    def spend_refresh_token(self, token_hash: str, *, now: datetime) -> RefreshTokenUse | None:
        """Mark it used, once; `reused` says it had been spent before. None if unknown."""
        ...

    def revoke_refresh_family(self, family: str, *, now: datetime) -> int: ...
    def revoke_user_refresh_tokens(self, username: str, *, now: datetime) -> int: ...
    def drop_expired_refresh_tokens(self, before: datetime) -> int: ...
    def login_failures(self, username: str) -> LoginFailures: ...
    def record_login_failure(
        self, username: str, *, now: datetime, locked_until: datetime | None
    ) -> LoginFailures: ...
    def clear_login_failures(self, username: str) -> None: ...


class DeviceKeyRepository(Protocol):
    """A device's previous secret, valid for a grace period after a rotation."""

    def retire_device_secret(self, device_id: str, *, valid_until: datetime) -> bool:
        """Keep the current secret as the previous one; False if there is none."""
        ...

    def verify_previous_secret(self, device_id: str, secret: str, *, now: datetime) -> bool: ...
    def previous_secret_valid_until(self, device_id: str, *, now: datetime) -> datetime | None: ...
    def drop_previous_secret(self, device_id: str) -> bool: ...


class AuditRepository(Protocol):
    """The append-only, hash-chained audit log (tagwatch.store.audit_chain)."""

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Give the entry the next seq and chain it to the last record; appends are
        serialised by the write transaction, so the chain stays linear."""
        ...

    def search(self, query: AuditQuery, *, after_seq: int = 0, limit: int = 100) -> AuditPage:
        """Records matching `query` with seq > after_seq, by seq."""
        ...

    def head(self) -> AuditRecord | None:
        """The last record."""
        ...

    def verify(self) -> ChainReport:
        """Walk the chain: every altered, removed or reordered record, by seq."""
        ...

    def checkpoint(self) -> AuditCheckpoint | None:
        """Where the chain starts after purges (None if nothing was ever purged)."""
        ...

    def purge_before(self, cutoff: datetime, *, now: datetime) -> AuditCheckpoint | None:
        """Retention: remove records with at < cutoff, keeping a checkpoint of the last
        one removed (returned; None if nothing was removed). The caller records the purge."""
        ...


class HoldRepository(Protocol):
    """Legal holds: fixes of a subject in a time range kept through retention purges."""

    def create_hold(self, draft: LegalHoldDraft, *, now: datetime) -> LegalHold:
        """MissingReferenceError for an unknown subject."""
        ...

    def get_hold(self, hold_id: str) -> LegalHold | None: ...
    def list_holds(
        self, *, subject_id: str | None = None, active_at: datetime | None = None
    ) -> list[LegalHold]:
        """Ordered by (created_at, id); `active_at`: not released at that instant."""
        ...

    def release_hold(self, hold_id: str, *, at: datetime) -> LegalHold:
        """NotFoundError for an unknown hold; releasing twice keeps the first release."""
        ...

    def held_fix_spans(self, at: datetime) -> list[FixSpan]:
        """The (device, start, end) spans whose fixes the holds active at `at` keep, via the
        subject's assignments. An alert's hold follows its episode (see store.holds)."""
        ...


class RetentionRepository(Protocol):
    """Purges by data class; each returns how many records went."""

    def purge_fixes_before(self, cutoff: datetime, *, keep: Sequence[FixSpan] = ()) -> FixPurge:
        """Fixes with fix_time < cutoff, except those in `keep`: a month with nothing kept
        goes as a whole (DROP TABLE); a month with held fixes loses only the others."""
        ...

    def purge_device_events_before(self, cutoff: datetime) -> int: ...
    def purge_alerts_before(self, cutoff: datetime, *, now: datetime) -> int:
        """Resolved alerts last updated before cutoff, with their history and episodes;
        their legal holds are released at `now` (an alert's fixes are kept as long as it)."""
        ...


class CommandRepository(Protocol):
    """Commands to devices (wearer notifications) and their delivery state."""

    def add_command(self, command: DeviceCommand) -> bool:
        """Insert; False (nothing written) if its alert already has a command."""
        ...

    def get_command(self, command_id: str) -> DeviceCommand | None: ...
    def replace_command(self, before: DeviceCommand, after: DeviceCommand) -> None:
        """Write `after` over `before` (same id); ConflictError if the stored command is no
        longer `before` (another state or updated_at): optimistic, so two notifiers cannot
        both claim one attempt."""
        ...

    def commands_for_alert(self, alert_id: str) -> list[DeviceCommand]:
        """Ordered by (created_at, id)."""
        ...

    def due_commands(self, now: datetime, *, limit: int = 100) -> list[DeviceCommand]:
        """Queued commands whose next attempt is at or before `now`, the most overdue first."""
        ...

    def unfinished_commands(self, *, limit: int = 1000) -> list[DeviceCommand]:
        """Queued or sent commands, by (created_at, id): for expiry."""
        ...

    def feed_cursor(self, name: str) -> int:
        """The alert_history id the named consumer has handled up to (0 at first)."""
        ...

    def set_feed_cursor(self, name: str, after_id: int) -> None: ...


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
    @property
    def organisations(self) -> OrganisationRepository: ...
    @property
    def grants(self) -> GrantRepository: ...
    @property
    def sign_ins(self) -> SignInRepository: ...
    @property
    def device_keys(self) -> DeviceKeyRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def holds(self) -> HoldRepository: ...
    @property
    def retention(self) -> RetentionRepository: ...
    @property
    def commands(self) -> CommandRepository: ...

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
