"""Alerts (one per episode) and their history in PostgreSQL.

The same queries as the SQLite store's. PostgreSQL runs writers side by side, so the alert
history takes a transaction lock before an append (`_HISTORY_LOCK`): ids are then handed
out in commit order and a reader tailing `alert_actions_after` never skips an action that
commits late with a smaller id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tagwatch.store.alert_rows import (
    alert_action_from_row,
    alert_action_values,
    alert_from_row,
    decode_cursor,
    encode_cursor,
)
from tagwatch.store.errors import ConflictError, NotFoundError, StoreError
from tagwatch.store.postgres.database import Database, as_read, instant, opt_instant
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

# In the order store.alert_rows reads them: change both together.
_COLUMNS = (
    "id, episode_id, subject_id, device_id, rule, requirement_id, severity, state, outcome,"
    " ack_deadline, created_at, updated_at, occurred_at, detected_at, late"
)
MAX_PAGE = 1000
_HISTORY_LOCK = 0x7467_6168  # "tgah": the advisory lock alert-history appends take turns on
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _encode_cursor(alert: Alert) -> str:
    return encode_cursor((alert.created_at - _EPOCH) // _US, alert.id)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    created_us, alert_id = decode_cursor(cursor)
    try:
        return _EPOCH + created_us * _US, alert_id
    except OverflowError as error:  # microseconds past datetime's range
        raise ValueError(f"not a cursor of this store: {cursor!r}") from error


class PostgresAlerts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _one(self, where: str, args: tuple[Any, ...]) -> Alert | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE {where}",  # noqa: S608
                args,
            ).fetchone()
        return None if row is None else alert_from_row(row, as_read)

    def get_alert(self, alert_id: str) -> Alert | None:
        return self._one("id = %s", (alert_id,))

    def alert_for_episode(self, episode_id: str) -> Alert | None:
        return self._one("episode_id = %s", (episode_id,))

    def upsert_alert_for_episode(
        self, draft: AlertDraft, *, now: datetime, replaces: Sequence[str] = ()
    ) -> AlertUpsert:
        moment = instant(now)
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
                instant(draft.occurred_at),
            )
            if existing is None:
                alert_id = uuid.uuid4().hex
                conn.execute(
                    f"INSERT INTO alerts ({_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})",  # noqa: S608
                    (
                        alert_id,
                        *facts[:6],
                        AlertState.NEW.value,
                        None,
                        opt_instant(draft.ack_deadline),
                        moment,
                        moment,
                        facts[6],
                        instant(draft.detected_at),
                        draft.late,
                    ),
                )
            else:
                alert_id = existing.id
                earlier = draft.detected_at < existing.detected_at
                detected = draft.detected_at if earlier else existing.detected_at
                late = draft.late if earlier else existing.late
                conn.execute(
                    "UPDATE alerts SET episode_id = %s, subject_id = %s, device_id = %s,"
                    " rule = %s, requirement_id = %s, severity = %s, occurred_at = %s,"
                    " detected_at = %s, late = %s, updated_at = %s WHERE id = %s",
                    (*facts, instant(detected), late, moment, alert_id),
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
                "UPDATE alerts SET state = %s, outcome = coalesce(%s, outcome),"
                " ack_deadline = coalesce(%s, ack_deadline), updated_at = %s"
                " WHERE id = %s AND (%s::text IS NULL OR state = %s)",
                (
                    AlertState(state).value,
                    None if outcome is None else AlertOutcome(outcome).value,
                    opt_instant(ack_deadline),
                    instant(now),
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
        where, args = ["true"], list[Any]()
        if states is not None:
            where.append("state = ANY(%s)")
            args.append([AlertState(s).value for s in states])
        if severities is not None:
            where.append("severity = ANY(%s)")
            args.append([AlertSeverity(s).value for s in severities])
        if subject_id is not None:
            where.append("subject_id = %s")
            args.append(subject_id)
        if since is not None:
            where.append("created_at >= %s")
            args.append(instant(since))
        if cursor is not None:
            created, after_id = _decode_cursor(cursor)
            where.append("(created_at, id) < (%s, %s)")
            args += [created, after_id]
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (*args, limit + 1),
            ).fetchall()
        alerts = tuple(alert_from_row(r, as_read) for r in rows[:limit])
        more = len(rows) > limit
        return AlertPage(alerts, _encode_cursor(alerts[-1]) if more else None)

    def overdue_alerts(self, now: datetime) -> list[Alert]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE ack_deadline IS NOT NULL"  # noqa: S608
                " AND ack_deadline <= %s AND state = ANY(%s) ORDER BY ack_deadline, id",
                (instant(now), [AlertState.NEW.value, AlertState.ESCALATED.value]),
            ).fetchall()
        return [alert_from_row(r, as_read) for r in rows]


# In the order store.alert_rows reads them: change both together.
_ACTION_COLUMNS = "id, alert_id, action, from_state, to_state, actor, note, at"


class PostgresAlertHistory:
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
            at=instant(at),
        )
        with self._db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_HISTORY_LOCK,))
            row = conn.execute(
                "INSERT INTO alert_history (alert_id, action, from_state, to_state, actor,"
                " note, at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values,
            ).fetchone()
        if row is None:
            raise StoreError("the alert history did not return the new action's id")
        return alert_action_from_row((row[0], *values), as_read)

    def alert_history(self, alert_id: str) -> list[AlertAction]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ACTION_COLUMNS} FROM alert_history WHERE alert_id = %s"  # noqa: S608
                " ORDER BY at, id",
                (alert_id,),
            ).fetchall()
        return [alert_action_from_row(r, as_read) for r in rows]

    def alert_actions_after(self, after_id: int, *, limit: int = 100) -> list[AlertAction]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_ACTION_COLUMNS} FROM alert_history WHERE id > %s"  # noqa: S608
                " ORDER BY id LIMIT %s",
                (after_id, limit),
            ).fetchall()
        return [alert_action_from_row(r, as_read) for r in rows]
