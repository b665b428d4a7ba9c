"""The alert case workflow: an explicit state machine, severities and acknowledgement deadlines.

An alert is worked through new -> acknowledged -> escalated -> resolved. Every action names
who took it, when, and carries a note; resolving records an outcome. The table below is the
whole of what is allowed; anything else raises `IllegalTransition`.

| from \\ action | acknowledge  | escalate  | resolve (+ outcome) | reopen       | note         |
|---------------|--------------|-----------|---------------------|--------------|--------------|
| new           | acknowledged | escalated | -                   | -            | new          |
| acknowledged  | -            | escalated | resolved            | -            | acknowledged |
| escalated     | -            | -         | resolved            | -            | escalated    |
| resolved      | -            | -         | -                   | acknowledged | resolved     |

Why so:
- Nobody resolves an alert nobody has taken: from new, acknowledge (or escalate) first, so
  "who looked at it" is always answered. The service may do both steps in one request.
- Escalate from new is a person's choice, or the notifier's when the acknowledgement
  deadline passes (actor "system"); escalated is then owned by whoever it went to, so it
  is not acknowledged again nor escalated twice (further contacts are notes).
- Reopen brings a resolved alert back to acknowledged, owned by the person reopening it,
  when new information shows the outcome was wrong; the earlier resolution stays in history.
- Note records a contact or a finding without changing the state, in any state.

This module is pure: no clock reads, no storage. The store keeps the `Transition`s as the
alert's history; `replay` checks a stored history against the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import RiskLevel

# One definition of the alert's states and outcomes: the store's, re-exported here.
from tagwatch.store.records import AlertOutcome, AlertSeverity, AlertState

__all__ = [
    "ACK_DEADLINES",
    "APPROACH_SEVERITY",
    "SEVERITY_TABLE",
    "TRANSITIONS",
    "AlertAction",
    "AlertOutcome",
    "AlertState",
    "IllegalTransition",
    "Severity",
    "Transition",
    "ack_deadline",
    "acknowledgement_overdue",
    "allowed_actions",
    "apply_action",
    "approach_severity",
    "replay",
    "severity_for",
]


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    NOTE = "note"


# One severity for the whole system: the store's, which ranks 0 for the most urgent.
Severity = AlertSeverity

_SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)

_S, _A = AlertState, AlertAction
TRANSITIONS: Mapping[tuple[AlertState, AlertAction], AlertState] = MappingProxyType(
    {
        (_S.NEW, _A.ACKNOWLEDGE): _S.ACKNOWLEDGED,
        (_S.NEW, _A.ESCALATE): _S.ESCALATED,
        (_S.ACKNOWLEDGED, _A.ESCALATE): _S.ESCALATED,
        (_S.ACKNOWLEDGED, _A.RESOLVE): _S.RESOLVED,
        (_S.ESCALATED, _A.RESOLVE): _S.RESOLVED,
        (_S.RESOLVED, _A.REOPEN): _S.ACKNOWLEDGED,
        **{(state, _A.NOTE): state for state in AlertState},
    }
)


class IllegalTransition(ValueError):  # noqa: N818 - the name the API promises
    """An action the workflow does not allow, or one without its actor, note or outcome."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One action on an alert: the line it leaves in the alert's history."""

    action: AlertAction
    from_state: AlertState
    to_state: AlertState
    actor: str
    note: str
    at: datetime
    outcome: AlertOutcome | None = None


def allowed_actions(state: AlertState) -> tuple[AlertAction, ...]:
    """What may be done to an alert in `state` (for the buttons the dashboard offers)."""
    return tuple(action for action in AlertAction if (state, action) in TRANSITIONS)


def apply_action(
    state: AlertState,
    action: AlertAction,
    *,
    actor: str,
    note: str,
    at: datetime,
    outcome: AlertOutcome | None = None,
) -> Transition:
    """The transition `action` makes from `state`, or IllegalTransition saying why not.

    `actor` and `note` must not be blank (they are stored stripped); `outcome` is required
    for RESOLVE and refused for every other action. `at` must be time-zone aware.
    """
    if at.tzinfo is None:
        raise ValueError("the time of an action must be time-zone aware")
    to_state = TRANSITIONS.get((state, action))
    if to_state is None:
        allowed = ", ".join(allowed_actions(state))
        raise IllegalTransition(f"cannot {action} an alert that is {state} (allowed: {allowed})")
    if not actor.strip():
        raise IllegalTransition("every action needs the actor who took it")
    if not note.strip():
        raise IllegalTransition(f"every action needs a note; {action} has none")
    if action is AlertAction.RESOLVE and outcome is None:
        raise IllegalTransition("resolving an alert needs an outcome")
    if action is not AlertAction.RESOLVE and outcome is not None:
        raise IllegalTransition(f"only resolve records an outcome, not {action}")
    return Transition(action, state, to_state, actor.strip(), note.strip(), at, outcome)


def replay(history: Iterable[Transition], start: AlertState = AlertState.NEW) -> AlertState:
    """The state a stored history leads to; IllegalTransition if it breaks the table."""
    state = start
    last_at: datetime | None = None
    for step in history:
        if step.from_state is not state or TRANSITIONS.get((state, step.action)) != step.to_state:
            raise IllegalTransition(
                f"history breaks the workflow: {step.action} from {step.from_state} to "
                f"{step.to_state} while the alert is {state}"
            )
        if last_at is not None and step.at < last_at:
            raise IllegalTransition(f"history out of time order at {step.at.isoformat()}")
        state, last_at = step.to_state, step.at
    return state


# --- severity by rule and risk level ---

_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
_RISKS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.VERY_HIGH)
_BY_RULE: dict[RuleKind, tuple[Severity, Severity, Severity, Severity]] = {
    #                            low risk, medium, high, very high
    RuleKind.EXCLUSION: (_H, _H, _C, _C),  # victim protection: a high-risk subject is critical
    RuleKind.STRAP_TAMPER: (_H, _H, _C, _C),  # the tag may be off: monitoring is lost
    RuleKind.CASE_TAMPER: (_H, _H, _H, _C),
    RuleKind.GPS_JAMMING: (_H, _H, _H, _C),  # suspected shielding hides where they are
    RuleKind.INCLUSION: (_H, _H, _H, _C),
    RuleKind.CURFEW: (_H, _H, _H, _H),
    RuleKind.NO_COMMS: (_M, _M, _H, _H),  # silence from a high-risk subject is a worry
    RuleKind.ATTENDANCE: (_M, _M, _M, _M),
    RuleKind.NO_GPS: (_L, _M, _M, _H),  # usually indoors; the tag still talks
    RuleKind.LOW_BATTERY: (_L, _L, _L, _L),
}
_APPROACH: tuple[Severity, Severity, Severity, Severity] = (_L, _M, _M, _H)

SEVERITY_TABLE: Mapping[RuleKind, Mapping[RiskLevel, Severity]] = MappingProxyType(
    {rule: MappingProxyType(dict(zip(_RISKS, row, strict=True))) for rule, row in _BY_RULE.items()}
)
"""Severity of an alert raised on time, by rule and the subject's risk level."""

APPROACH_SEVERITY: Mapping[RiskLevel, Severity] = MappingProxyType(
    dict(zip(_RISKS, _APPROACH, strict=True))
)
"""Severity of an approach warning (a fix in an exclusion zone's warning buffer)."""


def _late(severity: Severity, late: bool) -> Severity:
    """Late data (found well after it happened) lowers urgency one step, but never CRITICAL.

    A late violation is usually investigated rather than interrupted, so it may wait a
    little longer; a critical one keeps its deadline because the subject may still be
    where the buffered fixes put them.
    """
    if not late or severity in (Severity.CRITICAL, Severity.LOW):
        return severity
    return _SEVERITY_ORDER[severity.rank + 1]


def severity_for(rule: RuleKind, risk: RiskLevel, late: bool = False) -> Severity:
    """How urgent an alert of `rule` is for a subject of `risk` (see `SEVERITY_TABLE`)."""
    return _late(SEVERITY_TABLE[rule][risk], late)


def approach_severity(risk: RiskLevel, late: bool = False) -> Severity:
    """How urgent an approach warning is for a subject of `risk` (see `APPROACH_SEVERITY`)."""
    return _late(APPROACH_SEVERITY[risk], late)


# --- acknowledgement deadlines ---

ACK_DEADLINES: Mapping[Severity, timedelta] = MappingProxyType(
    {
        Severity.CRITICAL: timedelta(minutes=2),
        Severity.HIGH: timedelta(minutes=5),
        Severity.MEDIUM: timedelta(minutes=15),
        Severity.LOW: timedelta(minutes=60),
    }
)


def ack_deadline(severity: Severity, created_at: datetime) -> datetime:
    """When an alert of `severity` raised at `created_at` must have been acknowledged."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be time-zone aware")
    return created_at + ACK_DEADLINES[severity]


def acknowledgement_overdue(
    state: AlertState, severity: Severity, created_at: datetime, now: datetime
) -> bool:
    """True when a still-new alert has passed its deadline: time for the notifier to escalate."""
    return state is AlertState.NEW and now >= ack_deadline(severity, created_at)
