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
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


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
