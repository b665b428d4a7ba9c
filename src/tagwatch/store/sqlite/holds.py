"""Legal holds in SQLite (tagwatch.store.holds)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tagwatch.store.errors import NotFoundError
from tagwatch.store.hold_rows import hold_from_row
from tagwatch.store.holds import (
    ALERT_HOLD_MARGIN,
    FixSpan,
    HoldReason,
    LegalHold,
    LegalHoldDraft,
)
from tagwatch.store.sqlite.columns import from_us, opt_from_us, opt_us, to_us
from tagwatch.store.sqlite.database import Database

# In the order store.hold_rows reads them: change both together.
_COLUMNS = (
    "id, subject_id, start_us, end_us, reason, note, created_by, alert_id, created_at_us,"
    " released_at_us"
)


class SqliteHolds:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create_hold(self, draft: LegalHoldDraft, *, now: datetime) -> LegalHold:
        """An alert's hold is created once: asking again returns the existing one."""
        with self._db.transaction() as conn:
            if draft.alert_id is not None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM legal_holds WHERE alert_id = ?",  # noqa: S608
                    (draft.alert_id,),
                ).fetchone()
                if row is not None:
                    return hold_from_row(row, from_us)
            hold_id = uuid.uuid4().hex
            conn.execute(
                f"INSERT INTO legal_holds ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,NULL)",  # noqa: S608
                (
                    hold_id,
                    draft.subject_id,
                    to_us(draft.start),
                    opt_us(draft.end),
                    HoldReason(draft.reason).value,
                    draft.note,
                    draft.created_by,
                    draft.alert_id,
                    to_us(now),
                ),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM legal_holds WHERE id = ?",  # noqa: S608
                (hold_id,),
            ).fetchone()
        return hold_from_row(row, from_us)

    def get_hold(self, hold_id: str) -> LegalHold | None:
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM legal_holds WHERE id = ?", (hold_id,))  # noqa: S608
            .fetchone()
        )
        return None if row is None else hold_from_row(row, from_us)

    def list_holds(
        self, *, subject_id: str | None = None, active_at: datetime | None = None
    ) -> list[LegalHold]:
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if subject_id is not None:
            where.append("subject_id = ?")
            args.append(subject_id)
        if active_at is not None:
            where.append("(released_at_us IS NULL OR released_at_us > ?)")
            args.append(to_us(active_at))
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM legal_holds WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY created_at_us, id",
            args,
        )
        return [hold_from_row(r, from_us) for r in rows]

    def release_hold(self, hold_id: str, *, at: datetime) -> LegalHold:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE legal_holds SET released_at_us = coalesce(released_at_us, ?) WHERE id = ?",
                (to_us(at), hold_id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no legal hold {hold_id!r}")
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM legal_holds WHERE id = ?",  # noqa: S608
                (hold_id,),
            ).fetchone()
        return hold_from_row(row, from_us)

    def held_fix_spans(self, at: datetime) -> list[FixSpan]:
        """Each active hold meets each assignment of its subject: the overlap, per device.

        Assignments are half-open [start, end); a span's end is inclusive, so an
        assignment's end is taken as the last microsecond before it. An alert's hold takes
        its range from the alert's episode (store.holds), and lapses with the alert.
        """
        margin = ALERT_HOLD_MARGIN // timedelta(microseconds=1)
        rows = self._db.read().execute(
            "WITH held AS ("
            " SELECT h.subject_id,"
            "  CASE WHEN e.start_us IS NULL THEN h.start_us"
            "   ELSE min(h.start_us, e.start_us - :margin) END AS start_us,"
            "  CASE WHEN h.alert_id IS NULL OR e.id IS NULL THEN h.end_us"
            "   WHEN e.end_us IS NULL THEN NULL"
            "   ELSE max(coalesce(h.end_us, 0), e.end_us + :margin) END AS end_us"
            " FROM legal_holds h"
            " LEFT JOIN alerts al ON al.id = h.alert_id"
            " LEFT JOIN episodes e ON e.id = al.episode_id"
            " WHERE (h.released_at_us IS NULL OR h.released_at_us > :at)"
            " AND (h.alert_id IS NULL OR al.id IS NOT NULL))"
            " SELECT a.device_id, max(held.start_us, a.start_us),"
            " CASE WHEN held.end_us IS NULL AND a.end_us IS NULL THEN NULL"
            "      WHEN held.end_us IS NULL THEN a.end_us - 1"
            "      WHEN a.end_us IS NULL THEN held.end_us"
            "      ELSE min(held.end_us, a.end_us - 1) END"
            " FROM held JOIN assignments a ON a.subject_id = held.subject_id"
            " WHERE (held.end_us IS NULL OR a.start_us <= held.end_us)"
            " AND (a.end_us IS NULL OR a.end_us > held.start_us)"
            " ORDER BY a.device_id, 2",
            {"margin": margin, "at": to_us(at)},
        )
        return [FixSpan(device, from_us(start), opt_from_us(end)) for device, start, end in rows]
