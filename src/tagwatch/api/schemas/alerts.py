"""Alerts, their history and the actions operators take on them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tagwatch.api.schemas.common import Strict
from tagwatch.domain.commands import CommandState, DeviceCommand
from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.service.queries import AlertDetail
from tagwatch.service.workflow import AlertAction as WorkflowAction
from tagwatch.service.workflow import AlertOutcome as WorkflowOutcome
from tagwatch.store.records import (
    Alert,
    AlertAction,
    AlertOutcome,
    AlertPage,
    AlertSeverity,
    AlertState,
)


class AlertPublic(BaseModel):
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
    occurred_at: datetime = Field(description="when the violation started")
    detected_at: datetime = Field(description="when tagwatch knew")
    late: bool = Field(description="found from data that arrived late")

    @classmethod
    def of(cls, alert: Alert) -> AlertPublic:
        return cls(
            id=alert.id,
            episode_id=alert.episode_id,
            subject_id=alert.subject_id,
            device_id=alert.device_id,
            rule=alert.rule,
            requirement_id=alert.requirement_id,
            severity=alert.severity,
            state=alert.state,
            outcome=alert.outcome,
            ack_deadline=alert.ack_deadline,
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            occurred_at=alert.occurred_at,
            detected_at=alert.detected_at,
            late=alert.late,
        )


class AlertPagePublic(BaseModel):
    items: list[AlertPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")

    @classmethod
    def of(cls, page: AlertPage) -> AlertPagePublic:
        return cls(items=[AlertPublic.of(a) for a in page.alerts], next_cursor=page.next_cursor)


class AlertActionPublic(BaseModel):
    id: int
    alert_id: str
    action: str
    from_state: AlertState | None
    to_state: AlertState | None
    actor: str
    note: str
    at: datetime

    @classmethod
    def of(cls, action: AlertAction) -> AlertActionPublic:
        return cls(
            id=action.id,
            alert_id=action.alert_id,
            action=action.action,
            from_state=action.from_state,
            to_state=action.to_state,
            actor=action.actor,
            note=action.note,
            at=action.at,
        )


class EpisodePublic(BaseModel):
    id: str
    rule: RuleKind
    requirement_id: str
    start: datetime
    end: datetime | None
    confirmed_at: datetime
    deepest_penetration_m: float
    confidence: float
    evidence: list[datetime] = Field(description="fix times that prove it, deepest first")

    @classmethod
    def of(cls, episode: Episode) -> EpisodePublic:
        return cls(
            id=episode.id,
            rule=episode.rule,
            requirement_id=episode.requirement_id,
            start=episode.start,
            end=episode.end,
            confirmed_at=episode.confirmed_at,
            deepest_penetration_m=episode.deepest_penetration_m,
            confidence=episode.confidence,
            evidence=list(episode.evidence),
        )


class DeviceCommandPublic(BaseModel):
    """A message sent to the wearer's device about this alert, and how far it got."""

    id: str
    device_id: str
    channel: str = Field(description="teltonika (Codec 12), mqtt (tag topic) or owntracks")
    text: str
    state: CommandState = Field(description="queued, sent, delivered (the device answered), failed")
    attempts: int
    max_attempts: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    reply: str = Field(description="what the device answered")
    last_error: str

    @classmethod
    def of(cls, command: DeviceCommand) -> DeviceCommandPublic:
        return cls(
            id=command.id,
            device_id=command.device_id,
            channel=command.channel,
            text=command.text,
            state=command.state,
            attempts=command.attempts,
            max_attempts=command.max_attempts,
            created_at=command.created_at,
            updated_at=command.updated_at,
            expires_at=command.expires_at,
            next_attempt_at=command.next_attempt_at,
            sent_at=command.sent_at,
            delivered_at=command.delivered_at,
            reply=command.reply,
            last_error=command.last_error,
        )


class AlertDetailPublic(AlertPublic):
    history: list[AlertActionPublic]
    episode: EpisodePublic | None
    allowed_actions: list[str]
    notifications: list[DeviceCommandPublic] = Field(
        default_factory=list, description="messages sent to the wearer's device"
    )

    @classmethod
    def of_detail(cls, detail: AlertDetail) -> AlertDetailPublic:
        return cls(
            **AlertPublic.of(detail.alert).model_dump(),
            history=[AlertActionPublic.of(a) for a in detail.history],
            episode=EpisodePublic.of(detail.episode) if detail.episode else None,
            allowed_actions=list(detail.allowed_actions),
        )


class AlertActionCreate(Strict):
    """Acknowledge, escalate, resolve (with an outcome), reopen, or add a note."""

    action: WorkflowAction
    note: str = Field(min_length=1, max_length=4000)
    outcome: WorkflowOutcome | None = Field(default=None, description="resolve only")
