"""The alert case workflow: every transition, notes and outcomes, severities, deadlines."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import RiskLevel
from tagwatch.service.workflow import (
    ACK_DEADLINES,
    APPROACH_SEVERITY,
    SEVERITY_TABLE,
    TRANSITIONS,
    AlertAction,
    AlertOutcome,
    AlertState,
    IllegalTransition,
    Severity,
    Transition,
    ack_deadline,
    acknowledgement_overdue,
    allowed_actions,
    apply_action,
    approach_severity,
    replay,
    severity_for,
)

S, A, OUT = AlertState, AlertAction, AlertOutcome
AT = datetime(2024, 5, 1, 22, 14, tzinfo=UTC)

# The table in the module docstring, written out again by hand.
EXPECTED: dict[tuple[AlertState, AlertAction], AlertState] = {
    (S.NEW, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.NEW, A.ESCALATE): S.ESCALATED,
    (S.NEW, A.NOTE): S.NEW,
    (S.ACKNOWLEDGED, A.ESCALATE): S.ESCALATED,
    (S.ACKNOWLEDGED, A.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, A.NOTE): S.ACKNOWLEDGED,
    (S.ESCALATED, A.RESOLVE): S.RESOLVED,
    (S.ESCALATED, A.NOTE): S.ESCALATED,
    (S.RESOLVED, A.REOPEN): S.ACKNOWLEDGED,
    (S.RESOLVED, A.NOTE): S.RESOLVED,
}


def act(
    state: AlertState,
    action: AlertAction,
    *,
    actor: str = "mc-operator-4",
    note: str = "called the subject, no answer",
    at: datetime = AT,
    outcome: AlertOutcome | None = None,
) -> Transition:
    if action is A.RESOLVE and outcome is None:
        outcome = OUT.FALSE_ALERT
    return apply_action(state, action, actor=actor, note=note, at=at, outcome=outcome)


def test_the_string_values_match_the_stored_ones() -> None:
    assert [s.value for s in AlertState] == ["new", "acknowledged", "escalated", "resolved"]
    assert [o.value for o in AlertOutcome] == [
        "confirmed_breach",
        "false_alert",
        "technical_fault",
        "authorised_absence",
    ]
    by_urgency = sorted(Severity, key=lambda s: s.rank)
    assert [s.value for s in by_urgency] == ["critical", "high", "medium", "low"]


def test_the_transition_table_is_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(
    ("state", "action"),
    list(itertools.product(AlertState, AlertAction)),
    ids=str,
)
def test_every_state_and_action(state: AlertState, action: AlertAction) -> None:
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(IllegalTransition, match=f"cannot {action} an alert that is {state}"):
            act(state, action)
        return
    step = act(state, action)
    assert (step.action, step.from_state, step.to_state) == (action, state, expected)
    assert (step.actor, step.note, step.at) == (
        "mc-operator-4",
        "called the subject, no answer",
        AT,
    )
    assert step.outcome == (OUT.FALSE_ALERT if action is A.RESOLVE else None)


@pytest.mark.parametrize(("state", "action"), list(EXPECTED))
@pytest.mark.parametrize("note", ["", "   ", "\n\t"])
def test_every_action_needs_a_note(state: AlertState, action: AlertAction, note: str) -> None:
    with pytest.raises(IllegalTransition, match="needs a note"):
        act(state, action, note=note)


@pytest.mark.parametrize("actor", ["", "  "])
def test_every_action_needs_an_actor(actor: str) -> None:
    with pytest.raises(IllegalTransition, match="needs the actor"):
        act(S.NEW, A.ACKNOWLEDGE, actor=actor)


def test_actor_and_note_are_stored_trimmed() -> None:
    step = act(S.NEW, A.ACKNOWLEDGE, actor=" pc-1234 ", note="  on my way \n")
    assert (step.actor, step.note) == ("pc-1234", "on my way")


@pytest.mark.parametrize("outcome", list(AlertOutcome))
@pytest.mark.parametrize("state", [S.ACKNOWLEDGED, S.ESCALATED])
def test_resolving_records_its_outcome(state: AlertState, outcome: AlertOutcome) -> None:
    step = act(state, A.RESOLVE, outcome=outcome, note="hospital letter seen")
    assert (step.to_state, step.outcome) == (S.RESOLVED, outcome)


def test_resolving_without_an_outcome_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="needs an outcome"):
        apply_action(S.ACKNOWLEDGED, A.RESOLVE, actor="a", note="n", at=AT)


@pytest.mark.parametrize(("state", "action"), [key for key in EXPECTED if key[1] is not A.RESOLVE])
def test_only_resolve_records_an_outcome(state: AlertState, action: AlertAction) -> None:
    with pytest.raises(IllegalTransition, match=f"only resolve records an outcome, not {action}"):
        act(state, action, outcome=OUT.CONFIRMED_BREACH)


def test_a_new_alert_cannot_be_resolved_before_someone_takes_it() -> None:
    with pytest.raises(IllegalTransition, match="allowed: acknowledge, escalate, note"):
        act(S.NEW, A.RESOLVE)


def test_a_naive_time_is_a_programming_error_not_an_illegal_transition() -> None:
    with pytest.raises(ValueError, match="time-zone aware") as raised:
        act(S.NEW, A.ACKNOWLEDGE, at=datetime(2024, 5, 1, 22, 14))  # noqa: DTZ001
    assert not isinstance(raised.value, IllegalTransition)


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        (S.NEW, (A.ACKNOWLEDGE, A.ESCALATE, A.NOTE)),
        (S.ACKNOWLEDGED, (A.ESCALATE, A.RESOLVE, A.NOTE)),
        (S.ESCALATED, (A.RESOLVE, A.NOTE)),
        (S.RESOLVED, (A.REOPEN, A.NOTE)),
    ],
)
def test_allowed_actions(state: AlertState, actions: tuple[AlertAction, ...]) -> None:
    assert allowed_actions(state) == actions


def test_a_whole_case_replays_to_its_final_state() -> None:
    minute = timedelta(minutes=1)
    history, state = [], S.NEW
    for i, (action, outcome) in enumerate(
        [
            (A.ACKNOWLEDGE, None),
            (A.NOTE, None),
            (A.ESCALATE, None),
            (A.RESOLVE, OUT.FALSE_ALERT),
            (A.REOPEN, None),
            (A.RESOLVE, OUT.CONFIRMED_BREACH),
        ]
    ):
        step = act(state, action, outcome=outcome, at=AT + i * minute)
        history.append(step)
        state = step.to_state
    assert replay(history) is S.RESOLVED
    assert replay(history[:5]) is S.ACKNOWLEDGED
    assert replay([]) is S.NEW


def test_a_broken_history_is_refused() -> None:
    ack = act(S.NEW, A.ACKNOWLEDGE)
    with pytest.raises(IllegalTransition, match="history breaks the workflow"):
        replay([ack, ack])
    forged = Transition(A.RESOLVE, S.NEW, S.RESOLVED, "a", "n", AT, OUT.FALSE_ALERT)
    with pytest.raises(IllegalTransition, match="history breaks the workflow"):
        replay([forged])
    earlier = act(S.ACKNOWLEDGED, A.ESCALATE, at=AT - timedelta(seconds=1))
    with pytest.raises(IllegalTransition, match="out of time order"):
        replay([ack, earlier])


# --- severity ---

R = RiskLevel
C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
#                    low risk, medium, high, very high
SEVERITIES = {
    RuleKind.EXCLUSION: (H, H, C, C),
    RuleKind.STRAP_TAMPER: (H, H, C, C),
    RuleKind.CASE_TAMPER: (H, H, H, C),
    RuleKind.GPS_JAMMING: (H, H, H, C),
    RuleKind.INCLUSION: (H, H, H, C),
    RuleKind.CURFEW: (H, H, H, H),
    RuleKind.NO_COMMS: (M, M, H, H),
    RuleKind.ATTENDANCE: (M, M, M, M),
    RuleKind.NO_GPS: (L, M, M, H),
    RuleKind.LOW_BATTERY: (L, L, L, L),
}
RISKS = (R.LOW, R.MEDIUM, R.HIGH, R.VERY_HIGH)


def test_every_rule_and_risk_level_has_a_severity() -> None:
    assert set(SEVERITY_TABLE) == set(RuleKind)
    assert all(set(row) == set(RiskLevel) for row in SEVERITY_TABLE.values())
    assert set(APPROACH_SEVERITY) == set(RiskLevel)


@pytest.mark.parametrize(
    ("rule", "risk", "expected"),
    [
        (rule, risk, expected)
        for rule, row in SEVERITIES.items()
        for risk, expected in zip(RISKS, row, strict=True)
    ],
)
def test_severity_by_rule_and_risk(rule: RuleKind, risk: RiskLevel, expected: Severity) -> None:
    assert severity_for(rule, risk) is expected


@pytest.mark.parametrize(
    ("risk", "expected"), [(R.LOW, L), (R.MEDIUM, M), (R.HIGH, M), (R.VERY_HIGH, H)]
)
def test_approach_warning_severity(risk: RiskLevel, expected: Severity) -> None:
    assert approach_severity(risk) is expected


@pytest.mark.parametrize(
    ("rule", "risk", "on_time", "late"),
    [
        (RuleKind.EXCLUSION, R.VERY_HIGH, C, C),  # the subject may still be there
        (RuleKind.EXCLUSION, R.MEDIUM, H, M),
        (RuleKind.CURFEW, R.LOW, H, M),
        (RuleKind.ATTENDANCE, R.MEDIUM, M, L),
        (RuleKind.LOW_BATTERY, R.HIGH, L, L),
    ],
)
def test_late_data_lowers_urgency_one_step_but_never_a_critical_alert(
    rule: RuleKind, risk: RiskLevel, on_time: Severity, late: Severity
) -> None:
    assert severity_for(rule, risk) is on_time
    assert severity_for(rule, risk, late=True) is late


def test_late_approach_warning() -> None:
    assert approach_severity(R.VERY_HIGH, late=True) is M


def test_severity_rank_sorts_the_most_urgent_first() -> None:
    assert sorted([L, C, M, H], key=lambda s: s.rank) == [C, H, M, L]


# --- acknowledgement deadlines ---


@pytest.mark.parametrize(("severity", "minutes"), [(C, 2), (H, 5), (M, 15), (L, 60)])
def test_acknowledgement_deadline_per_severity(severity: Severity, minutes: int) -> None:
    assert ACK_DEADLINES[severity] == timedelta(minutes=minutes)
    assert ack_deadline(severity, AT) == AT + timedelta(minutes=minutes)


def test_more_urgent_alerts_have_shorter_deadlines() -> None:
    deadlines = [ACK_DEADLINES[s] for s in sorted(Severity, key=lambda s: s.rank)]
    assert deadlines == sorted(deadlines)
    assert len(set(deadlines)) == len(deadlines)


def test_a_deadline_needs_an_aware_creation_time() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        ack_deadline(H, datetime(2024, 5, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("state", "after", "overdue"),
    [
        (S.NEW, timedelta(minutes=4, seconds=59), False),
        (S.NEW, timedelta(minutes=5), True),
        (S.NEW, timedelta(hours=1), True),
        (S.ACKNOWLEDGED, timedelta(hours=1), False),
        (S.ESCALATED, timedelta(hours=1), False),
        (S.RESOLVED, timedelta(hours=1), False),
    ],
)
def test_only_a_new_alert_past_its_deadline_is_overdue(
    state: AlertState, after: timedelta, overdue: bool
) -> None:
    assert acknowledgement_overdue(state, H, AT, AT + after) is overdue
