"""Records the store returns that are not domain types: alerts, their history, users.

The alert workflow (which transitions are allowed, who may make them) lives in the service
layer; the store persists the state it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tagwatch.domain.episodes import EpisodeEvent, RuleKind
from tagwatch.domain.positions import Fix


class AlertState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class AlertOutcome(StrEnum):
    """How a resolved alert ended (see GLOSSARY.md: authorised absence, reasonable excuse)."""

    CONFIRMED_BREACH = "confirmed_breach"
    FALSE_ALERT = "false_alert"
    TECHNICAL_FAULT = "technical_fault"
    AUTHORISED_ABSENCE = "authorised_absence"


class AlertSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for the most urgent: sort an alert queue by (rank, created_at)."""
        return _SEVERITY_RANK[self.value]


_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class UserRole(StrEnum):
    """What a person may do (tagwatch.service.access has the whole table)."""

    ADMIN = "admin"
    MONITORING_OPERATOR = "monitoring_operator"
    POLICE_OFFICER = "police_officer"
    PROBATION_OFFICER = "probation_officer"
    AUDITOR = "auditor"
    VIEWER = "viewer"
    OPERATOR = "monitoring_operator"  # the name before organisations: the same role

    @classmethod
    def _missing_(cls, value: object) -> UserRole | None:
        return cls.MONITORING_OPERATOR if value == "operator" else None


class OrganisationKind(StrEnum):
    POLICE_FORCE = "police_force"
    PROBATION_REGION = "probation_region"
    MONITORING_CENTRE = "monitoring_centre"
    ADMINISTRATOR = "administrator"


# Where users and subjects that predate organisations live (the organisations migration).
DEFAULT_ORGANISATION_ID = "default"


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """The facts of an alert as the monitor knows them; the workflow fields are the store's.

    `occurred_at` is when the violation started (the episode's start), `detected_at` when
    tagwatch knew, `late` whether the evidence arrived late (DESIGN.md: time and order).
    `ack_deadline` is used when the alert is created and ignored afterwards.
    """

    episode_id: str
    subject_id: str
    device_id: str
    rule: RuleKind
    requirement_id: str
    severity: AlertSeverity
    occurred_at: datetime
    detected_at: datetime
    late: bool
    ack_deadline: datetime | None = None

    @classmethod
    def from_episode_event(
        cls,
        event: EpisodeEvent,
        *,
        severity: AlertSeverity,
        ack_deadline: datetime | None = None,
    ) -> AlertDraft:
        episode = event.episode
        return cls(
            episode_id=episode.id,
            subject_id=episode.subject_id,
            device_id=episode.device_id,
            rule=episode.rule,
            requirement_id=episode.requirement_id,
            severity=severity,
            occurred_at=episode.start,
            detected_at=event.detected_at,
            late=event.late,
            ack_deadline=ack_deadline,
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """What a person must act on: one per episode."""

    id: str
    episode_id: str
    subject_id: str
    device_id: str
    rule: RuleKind
    requirement_id: str
    severity: AlertSeverity
    state: AlertState
    outcome: AlertOutcome | None
    ack_deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    occurred_at: datetime
    detected_at: datetime
    late: bool


@dataclass(frozen=True, slots=True)
class AlertUpsert:
    """The result of `upsert_alert_for_episode`.

    `created` is true when the alert is new (the caller records it and notifies);
    `moved_from` names the superseded episode whose alert now follows the new episode.
    """

    alert: Alert
    created: bool
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class AlertPage:
    alerts: tuple[Alert, ...]
    next_cursor: str | None  # pass back as `cursor` for the next page; None on the last


@dataclass(frozen=True, slots=True)
class AlertAction:
    """One row of an alert's history. `id` increases with every action appended."""

    id: int
    alert_id: str
    action: str  # e.g. "created", "acknowledged", "note": the service names them
    from_state: AlertState | None
    to_state: AlertState | None
    actor: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in. The password hash never leaves the store."""

    username: str
    role: UserRole
    created_at: datetime
    organisation_id: str = DEFAULT_ORGANISATION_ID


@dataclass(frozen=True, slots=True)
class Organisation:
    """A police force, probation region, monitoring centre, or the administrators."""

    id: str
    name: str
    kind: OrganisationKind
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SharingGrant:
    """The managing organisation lets `grantee_organisation_id` see a subject, for a while.

    Active from `valid_from` (inclusive) to `valid_until` (exclusive), unless revoked.
    """

    id: str
    subject_id: str
    grantee_organisation_id: str
    granted_by: str
    valid_from: datetime
    valid_until: datetime
    reason: str
    created_at: datetime
    revoked_at: datetime | None = None

    def active(self, moment: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        return self.valid_from <= moment < self.valid_until


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Consecutive failed sign-ins of one username, and until when it is locked."""

    count: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class RefreshTokenUse:
    """What spending a refresh token found: whose it was and whether it was still good.

    `reused` is true when the token had already been spent: a sign that it was stolen, so
    the caller revokes its whole family (every token descended from the same sign-in).
    """

    username: str
    family: str
    expires_at: datetime
    reused: bool
    revoked: bool


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    """That a device has a secret, and since when. The hash never leaves the store."""

    device_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NearbyFix:
    """A fix whose centre lies within the searched radius (crime-scene correlation).

    `subject_id` is whoever the device was assigned to at the fix time, None if nobody.
    `distance_m` is the great-circle distance from the searched point to the fix centre;
    the fix's own accuracy is in `fix.accuracy_m` for the caller to weigh.
    """

    fix: Fix
    subject_id: str | None
    distance_m: float
