"""Alerts: the operators' workflow (`AlertService`) and the monitor's part (`MonitorAlerts`).

`AlertService.act` moves an alert through the workflow table (tagwatch.service.workflow):
it judges the action against the state it read, then writes the new state and the history
row in one transaction that succeeds only if the alert is still in that state (optimistic
concurrency: two operators acknowledging at once get one success and one ConflictError).
The history row's `action` is the workflow action's value ("acknowledge", "resolve", ...),
so `workflow.replay` can check a stored history. Escalating sets a fresh acknowledgement
deadline, owned by whoever the alert went to.

`MonitorAlerts` writes what the engine found, inside the monitor's transaction, as actor
"monitor", with history actions:

- "raised": an episode's alert was created (state new), severity from
  `workflow.severity_for(rule, subject risk level, late)`, deadline `workflow.ack_deadline`;
- "updated": the alert's facts changed in a way an operator should see (late data moved
  the start, or the alert followed a re-run episode that replaced the one it was raised
  for, or its severity changed) - not for every deeper fix, which would bury the history;
- "closed": the episode ended (the alert stays in its state: closing is an operator's
  decision with an outcome);
- "retracted": late data showed the episode did not happen as recorded.

Approach warnings (a fix in an exclusion zone's warning buffer) are alerts too, one per
warning (the engine warns once on entering the buffer, not for every fix in it), with
`workflow.approach_severity`. The domain has no rule kind for them yet, so they are stored
with rule `exclusion` and the zone as requirement, and told apart by their key in the
episode column, `<device>/approach/<zone>/<fix time>` (`is_approach`): the same shape as an
episode id, so a future `RuleKind.APPROACH` makes it `episode_id(...)` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from tagwatch.domain.episodes import (
    ApproachWarning,
    Episode,
    EpisodeChange,
    EpisodeEvent,
    RuleKind,
)
from tagwatch.domain.people import RiskLevel
from tagwatch.service import workflow
from tagwatch.service.bus import Bus, alert_message
from tagwatch.service.clock import Clock
from tagwatch.service.workflow import AlertAction, Severity
from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.errors import NotFoundError
from tagwatch.store.holds import ALERT_HOLD_MARGIN, HoldReason, LegalHoldDraft
from tagwatch.store.records import (
    Alert,
    AlertDraft,
    AlertOutcome,
    AlertSeverity,
    AlertState,
)
from tagwatch.store.records import AlertAction as HistoryRow

MONITOR = "monitor"
APPROACH = "approach"


class AlertService:
    def __init__(self, store: Store, bus: Bus, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock

    def act(
        self,
        alert_id: str,
        action: AlertAction | str,
        *,
        actor: str,
        note: str,
        outcome: AlertOutcome | str | None = None,
    ) -> Alert:
        """Apply a workflow action. NotFoundError for an unknown alert, IllegalTransition for
        an action the workflow refuses, ConflictError if someone acted on it meanwhile."""
        action = AlertAction(action)
        outcome = None if outcome is None else AlertOutcome(outcome)
        alert = self._store.alerts.get_alert(alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        at = self._clock.now()
        step = workflow.apply_action(
            alert.state, action, actor=actor, note=note, at=at, outcome=outcome
        )
        deadline = None
        if step.action is AlertAction.ESCALATE:
            deadline = workflow.ack_deadline(_workflow_severity(alert.severity), at)
        with self._store.transaction() as tx:
            updated = tx.alerts.update_alert_state(
                alert_id,
                state=step.to_state,
                now=at,
                outcome=step.outcome,
                ack_deadline=deadline,
                expected_state=alert.state,
            )
            tx.alert_history.append_alert_action(
                alert_id,
                action=step.action.value,
                at=at,
                actor=step.actor,
                from_state=step.from_state,
                to_state=step.to_state,
                note=step.note,
            )
        self._bus.publish(alert_message(updated))
        return updated

    def overdue(self, now: datetime | None = None) -> list[Alert]:
        """New or escalated alerts past their acknowledgement deadline, the oldest first."""
        return self._store.alerts.overdue_alerts(now if now is not None else self._clock.now())

    def history(self, alert_id: str) -> list[HistoryRow]:
        return self._store.alert_history.alert_history(alert_id)


def is_approach(alert: Alert) -> bool:
    """Whether the alert is an approach warning rather than a violation."""
    return alert.episode_id.split("/")[1:2] == [APPROACH]


def approach_key(warning: ApproachWarning) -> str:
    return f"{warning.device_id}/{APPROACH}/{warning.zone_id}/{warning.fix_time.isoformat()}"


class MonitorAlerts:
    """The monitor's writes for engine events, inside one transaction `tx` at `now`.

    `touched` collects the alerts written, for the monitor to publish after the commit.
    """

    def __init__(self, tx: UnitOfWork, now: datetime, risk_of: Callable[[str], RiskLevel]) -> None:
        self._tx = tx
        self._now = now
        self._risk_of = risk_of
        self.touched: dict[str, Alert] = {}

    def episode_event(
        self, event: EpisodeEvent, episode: Episode, replaces: Sequence[str] = ()
    ) -> None:
        """Store the episode and its alert; `episode`/`replaces` as the monitor maps them."""
        tx, now = self._tx, self._now
        if event.change is EpisodeChange.RETRACTED:
            tx.episodes.retract_episode(episode.id, at=now)
            alert = tx.alerts.alert_for_episode(episode.id)
            if alert is not None:
                self._history(alert, "retracted", "late data showed it did not happen so")
            return
        replaces = tuple(old for old in replaces if old != episode.id)
        prior = tx.episodes.get_episode(episode.id)
        existing = tx.alerts.alert_for_episode(episode.id)
        for old in replaces:
            prior = prior or tx.episodes.get_episode(old)
            existing = existing or tx.alerts.alert_for_episode(old)
        tx.episodes.upsert_episodes([episode])
        for old in replaces:
            tx.episodes.retract_episode(old, at=now)

        late = existing.late if existing is not None else event.late
        severity = _stored_severity(
            workflow.severity_for(episode.rule, self._risk_of(episode.subject_id), late)
        )
        draft = AlertDraft.from_episode_event(
            replace(event, episode=episode),
            severity=severity,
            ack_deadline=workflow.ack_deadline(_workflow_severity(severity), now),
        )
        upsert = tx.alerts.upsert_alert_for_episode(draft, now=now, replaces=replaces)
        alert = upsert.alert
        if upsert.created:
            self._history(alert, "raised", _raised_note(episode, event.late), AlertState.NEW)
            self._hold(alert, episode.start, None)  # follows the episode: store.holds
        elif upsert.moved_from is not None or (
            existing is not None
            and (existing.occurred_at, existing.severity) != (alert.occurred_at, alert.severity)
        ):
            self._history(alert, "updated", _updated_note(existing, alert))
        if episode.end is not None and (prior is None or prior.end is None):
            self._history(alert, "closed", f"the episode ended at {episode.end.isoformat()}")
        self.touched[alert.id] = alert

    def mapped_episode_event(self, event: EpisodeEvent, aliases: dict[str, Episode]) -> None:
        """Write an engine episode event, mapping episodes a rebuilt engine saw only in part.

        `aliases` (rebuilt episode id -> the stored episode it continues, see the monitor's
        rebuild) is updated when a re-run replaces an aliased episode.
        """
        episode = event.episode
        stored = aliases.get(episode.id)
        replaces: list[str] = []
        for old in event.replaces:
            if old in aliases:  # a re-run replaced an episode that continues a stored one
                stored = stored or aliases[old]
                aliases[episode.id] = stored
            else:
                replaces.append(old)
        if stored is None:
            self.episode_event(event, episode, replaces)
        elif event.change is EpisodeChange.RETRACTED:
            aliases.pop(episode.id, None)
            self.close_episode(stored, "late data ended the episode")
        else:
            self.episode_event(event, continued(episode, stored), replaces)

    def close_episode(self, episode: Episode, note: str) -> None:
        """End a stored open episode the engine no longer runs (its requirement is gone)."""
        ended = replace(episode, end=self._now)
        self._tx.episodes.upsert_episodes([ended])
        alert = self._tx.alerts.alert_for_episode(episode.id)
        if alert is not None:
            self._history(alert, "closed", note)
            self.touched[alert.id] = alert

    def approach(self, warning: ApproachWarning) -> None:
        key = approach_key(warning)
        if self._tx.alerts.alert_for_episode(key) is not None:
            return  # raised before (a replay): one alert per warning
        severity = _stored_severity(
            workflow.approach_severity(self._risk_of(warning.subject_id), warning.late)
        )
        draft = AlertDraft(
            episode_id=key,
            subject_id=warning.subject_id,
            device_id=warning.device_id,
            rule=RuleKind.EXCLUSION,
            requirement_id=warning.zone_id,
            severity=severity,
            occurred_at=warning.fix_time,
            detected_at=warning.detected_at,
            late=warning.late,
            ack_deadline=workflow.ack_deadline(_workflow_severity(severity), self._now),
        )
        alert = self._tx.alerts.upsert_alert_for_episode(draft, now=self._now).alert
        note = (
            f"approach warning: {warning.distance_m:.0f} m outside exclusion zone "
            f"{warning.zone_id} at {warning.fix_time.isoformat()}"
        )
        self._history(alert, "raised", note, AlertState.NEW)
        margin = ALERT_HOLD_MARGIN
        self._hold(alert, warning.fix_time - margin, warning.fix_time + margin)
        self.touched[alert.id] = alert

    def _hold(self, alert: Alert, start: datetime, end: datetime | None) -> None:
        """Keep the fixes behind the alert through retention purges (a legal hold)."""
        draft = LegalHoldDraft(
            subject_id=alert.subject_id,
            start=start,
            end=end,
            reason=HoldReason.ALERT,
            note=f"the fixes behind alert {alert.id}",
            created_by=MONITOR,
            alert_id=alert.id,
        )
        self._tx.holds.create_hold(draft, now=self._now)

    def _history(
        self, alert: Alert, action: str, note: str, to_state: AlertState | None = None
    ) -> None:
        self._tx.alert_history.append_alert_action(
            alert.id, action=action, at=self._now, actor=MONITOR, to_state=to_state, note=note
        )


def continued(episode: Episode, stored: Episode) -> Episode:
    """The engine's `episode` as the later part of the `stored` one it continues."""
    deeper = stored if stored.deepest_penetration_m >= episode.deepest_penetration_m else episode
    return replace(
        episode,
        id=stored.id,
        start=stored.start,
        confirmed_at=min(stored.confirmed_at, episode.confirmed_at),
        deepest_penetration_m=deeper.deepest_penetration_m,
        confidence=max(stored.confidence, episode.confidence),
        evidence=deeper.evidence,
    )


def _raised_note(episode: Episode, late: bool) -> str:
    requirement = f" {episode.requirement_id}" if episode.requirement_id else ""
    text = f"{episode.rule.value}{requirement} from {episode.start.isoformat()}"
    return text + (" (found from late data)" if late else "")


def _updated_note(before: Alert | None, after: Alert) -> str:
    changes = []
    if before is None or before.episode_id != after.episode_id:
        changes.append("late data re-ran the episode it was raised for")
    if before is not None and before.occurred_at != after.occurred_at:
        changes.append(f"start moved to {after.occurred_at.isoformat()}")
    if before is not None and before.severity != after.severity:
        changes.append(f"severity {before.severity.value} -> {after.severity.value}")
    return "; ".join(changes) or "updated"


def _stored_severity(severity: Severity) -> AlertSeverity:
    return AlertSeverity(severity.value)


def _workflow_severity(severity: AlertSeverity) -> Severity:
    return Severity(severity.value)
