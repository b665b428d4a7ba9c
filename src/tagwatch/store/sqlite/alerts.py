"""Alerts (one per episode) and their history in SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from tagwatch.store.alert_rows import (
    alert_action_from_row,
    alert_action_values,
    alert_from_row,
    decode_cursor,
    encode_cursor,
)
from tagwatch.store.errors import ConflictError, NotFoundError, StoreError
from tagwatch.store.records import (
    Alert,
    AlertAction,
    AlertDraft,
    AlertOutcome,
    AlertPage,
    AlertSeverity,
    AlertState,
    AlertUpsert,
)
from tagwatch.store.sqlite.columns import from_us, opt_us, placeholders, to_us
from tagwatch.store.sqlite.database import Database

# In the order store.alert_rows reads them: change both together.
_COLUMNS = (
    "id, episode_id, subject_id, device_id, rule, requirement_id, severity, state, outcome,"
    " ack_deadline_us, created_at_us, updated_at_us, occurred_at_us, detected_at_us, late"
)
MAX_PAGE = 1000


def _encode_cursor(alert: Alert) -> str:
    return encode_cursor(to_us(alert.created_at), alert.id)


class SqliteAlerts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _one(self, where: str, args: tuple[Any, ...]) -> Alert | None:
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM alerts WHERE {where}", args)  # noqa: S608
            .fetchone()
        )
        return None if row is None else alert_from_row(row, from_us)

    def get_alert(self, alert_id: str) -> Alert | None:
        return self._one("id = ?", (alert_id,))

    def alert_for_episode(self, episode_id: str) -> Alert | None:
        return self._one("episode_id = ?", (episode_id,))

    def upsert_alert_for_episode(
        self, draft: AlertDraft, *, now: datetime, replaces: Sequence[str] = ()
    ) -> AlertUpsert:
        with self._db.transaction() as conn:
            existing, moved_from = self.alert_for_episode(draft.episode_id), None
            for old in replaces if existing is None else ():
                existing = self.alert_for_episode(old)
                if existing is not None:
                    moved_from = old
                    break
            facts = (
                draft.episode_id,
                draft.subject_id,
                draft.device_id,
                draft.rule.value,
                draft.requirement_id,
                draft.severity.value,
                to_us(draft.occurred_at),
            )
            if existing is None:
                alert_id = uuid.uuid4().hex
                conn.execute(
                    f"INSERT INTO alerts ({_COLUMNS}) VALUES ({placeholders(15)})",  # noqa: S608
                    (
                        alert_id,
                        *facts[:6],
                        AlertState.NEW.value,
                        None,
                        opt_us(draft.ack_deadline),
                        to_us(now),
                        to_us(now),
                        facts[6],
                        to_us(draft.detected_at),
                        int(draft.late),
                    ),
                )
            else:
                alert_id = existing.id
                earlier = draft.detected_at < existing.detected_at
                detected = draft.detected_at if earlier else existing.detected_at
                late = draft.late if earlier else existing.late
                conn.execute(
                    "UPDATE alerts SET episode_id = ?, subject_id = ?, device_id = ?, rule = ?,"
                    " requirement_id = ?, severity = ?, occurred_at_us = ?,"
                    " detected_at_us = ?, late = ?, updated_at_us = ? WHERE id = ?",
                    (*facts, to_us(detected), int(late), to_us(now), alert_id),
                )
            alert = self.get_alert(alert_id)
        if alert is None:
            raise StoreError(f"alert {alert_id} vanished while it was written")
        return AlertUpsert(alert, created=existing is None, moved_from=moved_from)

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
        expected = None if expected_state is None else AlertState(expected_state).value
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE alerts SET state = ?, outcome = coalesce(?, outcome),"
                " ack_deadline_us = coalesce(?, ack_deadline_us), updated_at_us = ?"
                " WHERE id = ? AND (? IS NULL OR state = ?)",
                (
                    AlertState(state).value,
                    None if outcome is None else AlertOutcome(outcome).value,
                    opt_us(ack_deadline),
                    to_us(now),
                    alert_id,
                    expected,
                    expected,
                ),
            )
            alert = self.get_alert(alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id}")
        if cursor.rowcount == 0:
            raise ConflictError(
                f"alert {alert_id} is {alert.state.value}, not {expected}: "
                "somebody else acted on it first"
            )
        return alert

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
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        where, args = ["1"], list[Any]()
        if states is not None:
            where.append(f"state IN ({placeholders(len(states))})")
            args += [AlertState(s).value for s in states]
        if severities is not None:
            where.append(f"severity IN ({placeholders(len(severities))})")
            args += [AlertSeverity(s).value for s in severities]
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if since is not None:
            where.append("created_at_us >= ?")
            args.append(to_us(since))
        if cursor is not None:
            created, after_id = decode_cursor(cursor)
            where.append("(created_at_us < ? OR (created_at_us = ? AND id < ?))")
            args += [created, created, after_id]
        rows = (
            self._db.read()
            .execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY created_at_us DESC, id DESC LIMIT ?",
                (*args, limit + 1),
            )
            .fetchall()
        )
        alerts = tuple(alert_from_row(r, from_us) for r in rows[:limit])
        more = len(rows) > limit
        return AlertPage(alerts, _encode_cursor(alerts[-1]) if more else None)

    def overdue_alerts(self, now: datetime) -> list[Alert]:
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE ack_deadline_us IS NOT NULL"  # noqa: S608
            " AND ack_deadline_us <= ? AND state IN (?, ?) ORDER BY ack_deadline_us, id",
            (to_us(now), AlertState.NEW.value, AlertState.ESCALATED.value),
        )
        return [alert_from_row(r, from_us) for r in rows]


# In the order store.alert_rows reads them: change both together.
_ACTION_COLUMNS = "id, alert_id, action, from_state, to_state, actor, note, at_us"


class SqliteAlertHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

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
    ) -> AlertAction:
        values = alert_action_values(
            alert_id,
            action=action,
            actor=actor,
            from_state=from_state,
            to_state=to_state,
            note=note,
            at=to_us(at),
        )
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO alert_history (alert_id, action, from_state, to_state, actor,"
                " note, at_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            row_id = cursor.lastrowid
        return alert_action_from_row((row_id, *values), from_us)

    def alert_history(self, alert_id: str) -> list[AlertAction]:
        rows = self._db.read().execute(
            f"SELECT {_ACTION_COLUMNS} FROM alert_history WHERE alert_id = ?"  # noqa: S608
            " ORDER BY at_us, id",
            (alert_id,),
        )
        return [alert_action_from_row(r, from_us) for r in rows]

    def alert_actions_after(self, after_id: int, *, limit: int = 100) -> list[AlertAction]:
        rows = self._db.read().execute(
            f"SELECT {_ACTION_COLUMNS} FROM alert_history WHERE id > ?"  # noqa: S608
            " ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [alert_action_from_row(r, from_us) for r in rows]
