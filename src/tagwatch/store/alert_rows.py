"""Alerts and alert actions as table rows, and the alert list's page cursor, for every store.

Both stores list the same columns in the same order and keep enums as their values; only
instants differ (SQLite: microseconds as integers, PostgreSQL: timestamptz), so the
decoders take the store's own conversion for a stored time.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.domain.episodes import RuleKind
from tagwatch.store.records import Alert, AlertAction, AlertOutcome, AlertSeverity, AlertState


def alert_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> Alert:
    """id, episode_id, subject_id, device_id, rule, requirement_id, severity, state, outcome,
    ack_deadline, created_at, updated_at, occurred_at, detected_at, late."""
    return Alert(
        id=r[0],
        episode_id=r[1],
        subject_id=r[2],
        device_id=r[3],
        rule=RuleKind(r[4]),
        requirement_id=r[5],
        severity=AlertSeverity(r[6]),
        state=AlertState(r[7]),
        outcome=None if r[8] is None else AlertOutcome(r[8]),
        ack_deadline=None if r[9] is None else instant(r[9]),
        created_at=instant(r[10]),
        updated_at=instant(r[11]),
        occurred_at=instant(r[12]),
        detected_at=instant(r[13]),
        late=bool(r[14]),  # SQLite has no booleans: 0 or 1
    )


def alert_action_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> AlertAction:
    """id, alert_id, action, from_state, to_state, actor, note, at."""
    return AlertAction(
        id=r[0],
        alert_id=r[1],
        action=r[2],
        from_state=None if r[3] is None else AlertState(r[3]),
        to_state=None if r[4] is None else AlertState(r[4]),
        actor=r[5],
        note=r[6],
        at=instant(r[7]),
    )


def alert_action_values(
    alert_id: str,
    *,
    action: str,
    actor: str,
    from_state: AlertState | None,
    to_state: AlertState | None,
    note: str,
    at: object,
) -> tuple[object, ...]:
    """The values of a new alert_actions row, in the columns' order after `id`; `at` is
    already in the store's own time encoding."""
    return (
        alert_id,
        action,
        None if from_state is None else AlertState(from_state).value,
        None if to_state is None else AlertState(to_state).value,
        actor,
        note,
        at,
    )


def encode_cursor(created_us: int, alert_id: str) -> str:
    """The opaque cursor after an alert: its creation (microseconds since the epoch) and id.

    The same text in both stores, so a cursor survives a move from one to the other.
    """
    raw = f"{created_us}:{alert_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (created microseconds, alert id) in `encode_cursor`'s text; ValueError if not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, alert_id = raw.split(":", 1)
        return int(created), alert_id
    except ValueError as error:
        raise ValueError(f"not a cursor of this store: {cursor!r}") from error
