"""Retention purges in SQLite, one data class at a time.

Fixes live in monthly tables (fix_layout.py), so a month that is wholly older than the
cutoff and holds no held fix goes with one `DROP TABLE`: instant, and no free pages left
scattered through live data. A month with held fixes (a legal hold) cannot be dropped:
its other old rows are deleted in one statement and the held ones stay until their hold
is released and a later purge drops the month. The month containing the cutoff is never
touched (a purge keeps whole months, so fixes may outlive the cutoff by up to a month).

Device events are one table indexed by time: they are deleted in a range. Alerts go only
once resolved, with their history and their episode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from tagwatch.store.holds import FixPurge, FixSpan
from tagwatch.store.sqlite.columns import to_ms, to_us
from tagwatch.store.sqlite.database import Database

_FAR_FUTURE_MS = 2**62


class SqliteRetention:
    def __init__(self, db: Database) -> None:
        self._db = db

    def purge_fixes_before(self, cutoff: datetime, *, keep: Sequence[FixSpan] = ()) -> FixPurge:
        limit_ms = to_ms(cutoff)
        removed = dropped = trimmed = kept = 0
        with self._db.transaction() as conn:
            months = conn.execute(
                "SELECT month, table_name, start_ms, end_ms, row_count FROM fix_partitions"
                " WHERE end_ms <= ? ORDER BY month",
                (limit_ms,),
            ).fetchall()
            if not months:
                return FixPurge(0, 0, 0, 0)
            spans = self._keyed_spans(conn, keep)
            for month, table, start_ms, end_ms, row_count in months:
                held = [s for s in spans if s[1] < end_ms and s[2] >= start_ms]
                if not held:
                    conn.execute(f"DROP TABLE {table}")
                    conn.execute("DELETE FROM fix_partitions WHERE month = ?", (month,))
                    removed += int(row_count)
                    dropped += 1
                    continue
                conn.execute("DELETE FROM temp.retention_keep")
                conn.executemany("INSERT INTO temp.retention_keep VALUES (?, ?, ?)", held)
                gone = conn.execute(
                    f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1"  # noqa: S608
                    f" FROM temp.retention_keep k WHERE k.device_key = {table}.device_key"
                    f" AND {table}.fix_time_ms BETWEEN k.first_ms AND k.last_ms)"
                ).rowcount
                left = int(row_count) - gone
                conn.execute(
                    "UPDATE fix_partitions SET row_count = ? WHERE month = ?", (left, month)
                )
                removed += gone
                kept += left
                trimmed += 1
        return FixPurge(removed, dropped, trimmed, kept)

    def _keyed_spans(
        self, conn: sqlite3.Connection, keep: Sequence[FixSpan]
    ) -> list[tuple[int, int, int]]:
        """(device key, first ms, last ms) of each span, for devices that have fixes."""
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS retention_keep"
            " (device_key INTEGER, first_ms INTEGER, last_ms INTEGER)"
        )
        keys = dict(conn.execute("SELECT device_id, key FROM fix_devices").fetchall())
        spans = []
        for span in keep:
            key = keys.get(span.device_id)
            if key is None:
                continue
            last = _FAR_FUTURE_MS if span.end is None else to_ms(span.end)
            spans.append((int(key), to_ms(span.start), last))
        return spans

    def purge_device_events_before(self, cutoff: datetime) -> int:
        with self._db.transaction() as conn:
            return conn.execute(
                "DELETE FROM device_events WHERE time_ms < ?", (to_ms(cutoff),)
            ).rowcount

    def purge_alerts_before(self, cutoff: datetime, *, now: datetime) -> int:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, episode_id FROM alerts WHERE state = 'resolved' AND updated_at_us < ?",
                (to_us(cutoff),),
            ).fetchall()
            alert_ids = [(alert_id,) for alert_id, _ in rows]
            conn.executemany("DELETE FROM alert_history WHERE alert_id = ?", alert_ids)
            conn.executemany("DELETE FROM alerts WHERE id = ?", alert_ids)
            conn.executemany("DELETE FROM episodes WHERE id = ?", [(e,) for _, e in rows])
            conn.executemany(
                "UPDATE legal_holds SET released_at_us = ?"
                " WHERE alert_id = ? AND released_at_us IS NULL",
                [(to_us(now), alert_id) for alert_id, _ in rows],
            )
        return len(rows)
