"""Legal holds and retention purges in PostgreSQL (tagwatch.store.holds).

Fixes live in daily partitions (partitions.py), so a day wholly older than the cutoff that
holds no held fix goes with one `DROP TABLE`; a day with held fixes loses only its other
rows, and the held ones stay until their hold is released and a later purge drops the day.
Rows waiting in the default partition are deleted by time (the held ones kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from psycopg import sql

from tagwatch.store.errors import NotFoundError, StoreError
from tagwatch.store.hold_rows import hold_from_row
from tagwatch.store.holds import (
    ALERT_HOLD_MARGIN,
    FixPurge,
    FixSpan,
    HoldReason,
    LegalHold,
    LegalHoldDraft,
)
from tagwatch.store.postgres.database import Connection, Database, as_read, instant, opt_instant
from tagwatch.store.postgres.partitions import (
    DEFAULT_PARTITION,
    FixPartitions,
    day_bounds,
    existing_days,
    partition_name,
)

# In the order store.hold_rows reads them: change both together.
_COLUMNS = (
    "id, subject_id, start_at, end_at, reason, note, created_by, alert_id, created_at, released_at"
)
_HELD_SPANS = """
WITH held AS (
    SELECT h.subject_id,
        CASE WHEN e.start_at IS NULL THEN h.start_at
             ELSE least(h.start_at, e.start_at - %(margin)s) END AS start_at,
        CASE WHEN h.alert_id IS NULL OR e.id IS NULL THEN h.end_at
             WHEN e.end_at IS NULL THEN NULL
             ELSE greatest(h.end_at, e.end_at + %(margin)s) END AS end_at
    FROM legal_holds h
    LEFT JOIN alerts al ON al.id = h.alert_id
    LEFT JOIN episodes e ON e.id = al.episode_id
    WHERE (h.released_at IS NULL OR h.released_at > %(at)s)
      AND (h.alert_id IS NULL OR al.id IS NOT NULL)
)
SELECT a.device_id, greatest(held.start_at, a.start_at) AS first,
    CASE WHEN held.end_at IS NULL AND a.end_at IS NULL THEN NULL
         WHEN held.end_at IS NULL THEN a.end_at - interval '1 microsecond'
         WHEN a.end_at IS NULL THEN held.end_at
         ELSE least(held.end_at, a.end_at - interval '1 microsecond') END
FROM held JOIN assignments a ON a.subject_id = held.subject_id
WHERE (held.end_at IS NULL OR a.start_at <= held.end_at)
  AND (a.end_at IS NULL OR a.end_at > held.start_at)
ORDER BY a.device_id, first
"""
# Rows of one table older than the cutoff that no held span keeps.
_DELETE_UNHELD = (
    "DELETE FROM {table} WHERE {table}.fix_time < %(cutoff)s AND NOT EXISTS (SELECT 1"
    " FROM unnest(%(devices)s::text[], %(firsts)s::timestamptz[], %(lasts)s::timestamptz[])"
    " AS k (device_id, first, last) WHERE k.device_id = {table}.device_id"
    " AND {table}.fix_time >= k.first AND {table}.fix_time <= coalesce(k.last, 'infinity'))"
)


class PostgresHolds:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _one(self, conn: Connection, where: str, value: str) -> LegalHold | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM legal_holds WHERE {where} = %s",  # noqa: S608
            (value,),
        ).fetchone()
        return None if row is None else hold_from_row(row, as_read)

    def create_hold(self, draft: LegalHoldDraft, *, now: datetime) -> LegalHold:
        """An alert's hold is created once: asking again returns the existing one."""
        hold_id = uuid.uuid4().hex
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO legal_holds ({_COLUMNS})"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)"
                " ON CONFLICT (alert_id) DO NOTHING",
                (
                    hold_id,
                    draft.subject_id,
                    instant(draft.start),
                    opt_instant(draft.end),
                    HoldReason(draft.reason).value,
                    draft.note,
                    draft.created_by,
                    draft.alert_id,
                    instant(now),
                ),
            )
            if draft.alert_id is not None:
                found = self._one(conn, "alert_id", draft.alert_id)
            else:
                found = self._one(conn, "id", hold_id)
        if found is None:
            raise StoreError("the legal hold vanished while it was written")
        return found

    def get_hold(self, hold_id: str) -> LegalHold | None:
        with self._db.read() as conn:
            return self._one(conn, "id", hold_id)

    def list_holds(
        self, *, subject_id: str | None = None, active_at: datetime | None = None
    ) -> list[LegalHold]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM legal_holds"  # noqa: S608
                " WHERE (%(subject)s::text IS NULL OR subject_id = %(subject)s)"
                " AND (%(at)s::timestamptz IS NULL OR released_at IS NULL"
                " OR released_at > %(at)s) ORDER BY created_at, id",
                {"subject": subject_id, "at": opt_instant(active_at)},
            ).fetchall()
        return [hold_from_row(r, as_read) for r in rows]

    def release_hold(self, hold_id: str, *, at: datetime) -> LegalHold:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE legal_holds SET released_at = coalesce(released_at, %s) WHERE id = %s",
                (instant(at), hold_id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no legal hold {hold_id!r}")
            found = self._one(conn, "id", hold_id)
        if found is None:
            raise NotFoundError(f"no legal hold {hold_id!r}")
        return found

    def held_fix_spans(self, at: datetime) -> list[FixSpan]:
        """Each active hold meets each assignment of its subject: the overlap, per device."""
        with self._db.read() as conn:
            rows = conn.execute(
                _HELD_SPANS, {"margin": ALERT_HOLD_MARGIN, "at": instant(at)}
            ).fetchall()
        return [FixSpan(device, start, end) for device, start, end in rows]


class PostgresRetention:
    def __init__(self, db: Database, partitions: FixPartitions) -> None:
        self._db = db
        self._partitions = partitions

    def purge_fixes_before(self, cutoff: datetime, *, keep: Sequence[FixSpan] = ()) -> FixPurge:
        limit = instant(cutoff)
        spans = [(s.device_id, instant(s.start), opt_instant(s.end)) for s in keep]
        args = {
            "cutoff": limit,
            "devices": [s[0] for s in spans],
            "firsts": [s[1] for s in spans],
            "lasts": [s[2] for s in spans],
        }
        removed = dropped = trimmed = kept = 0
        gone_days: list[date] = []
        with self._db.transaction() as conn:
            for day in sorted(existing_days(conn)):
                start, end = day_bounds(day)
                if end > limit:
                    continue
                table = sql.Identifier(partition_name(day))
                count = _count(conn, sql.SQL("SELECT count(*) FROM {}").format(table))
                if not any(s[1] < end and (s[2] is None or s[2] >= start) for s in spans):
                    conn.execute(sql.SQL("DROP TABLE {}").format(table))
                    gone_days.append(day)
                    removed += count
                    dropped += 1
                    continue
                gone = _delete_unheld(conn, table, args)
                removed += gone
                kept += count - gone
                trimmed += 1
            removed += _delete_unheld(conn, sql.Identifier(DEFAULT_PARTITION), args)
        self._partitions.forget(gone_days)
        return FixPurge(removed, dropped, trimmed, kept)

    def purge_device_events_before(self, cutoff: datetime) -> int:
        with self._db.transaction() as conn:
            return conn.execute(
                "DELETE FROM device_events WHERE time < %s", (instant(cutoff),)
            ).rowcount

    def purge_alerts_before(self, cutoff: datetime, *, now: datetime) -> int:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, episode_id FROM alerts WHERE state = 'resolved' AND updated_at < %s",
                (instant(cutoff),),
            ).fetchall()
            alert_ids = [r[0] for r in rows]
            conn.execute("DELETE FROM alert_history WHERE alert_id = ANY(%s)", (alert_ids,))
            conn.execute(
                "UPDATE device_commands SET alert_id = NULL WHERE alert_id = ANY(%s)",
                (alert_ids,),
            )
            conn.execute("DELETE FROM alerts WHERE id = ANY(%s)", (alert_ids,))
            conn.execute("DELETE FROM episodes WHERE id = ANY(%s)", ([r[1] for r in rows],))
            conn.execute(
                "UPDATE legal_holds SET released_at = %s"
                " WHERE alert_id = ANY(%s) AND released_at IS NULL",
                (instant(now), alert_ids),
            )
        return len(rows)


def _count(conn: Connection, query: sql.Composed) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _delete_unheld(conn: Connection, table: sql.Identifier, args: dict[str, Any]) -> int:
    query = sql.SQL(_DELETE_UNHELD).format(table=table)
    return max(conn.execute(query, args).rowcount, 0)
