"""Fixes in SQLite: idempotent appends, trails, latest positions, proximity, retention.

The table layout and why it stays fast as history grows: see fix_layout.py.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from tagwatch.domain.positions import Fix
from tagwatch.store.records import NearbyFix
from tagwatch.store.sqlite.columns import placeholders, to_ms, to_us
from tagwatch.store.sqlite.database import Database
from tagwatch.store.sqlite.fix_layout import (
    COLUMNS,
    SLOT_MS,
    FixColumns,
    ceil_ms,
    chunks,
    fix_from_row,
    fix_rows,
    month_bounds,
    partition_ddl,
    slot_chunks,
    table_name,
)
from tagwatch.store.sqlite.grid import covering_cells, haversine_m
from tagwatch.store.sqlite.many_rows import insert_rows

Partition = tuple[str, int, int, int]  # table, first ms, end ms (exclusive), row count


class SqliteFixes:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- writing -------------------------------------------------------------------------

    def add_fixes(self, fixes: Iterable[Fix]) -> int:
        batch = list(fixes)
        if not batch:
            return 0
        with self._db.transaction() as conn:
            keys = self._device_keys(conn, [fix.device_id for fix in batch], create=True)
            months, newest = fix_rows(batch, keys)
            inserted = 0
            for month, rows in months.items():
                table = self._partition(conn, month, rows[0][2])
                count = insert_rows(
                    conn,
                    f"INSERT INTO {table} (device_key, slot, {COLUMNS}, cell)",
                    rows,
                    tail=" ON CONFLICT (slot, device_key, fix_time_ms) DO NOTHING",
                ).rows
                conn.execute(
                    "UPDATE fix_partitions SET row_count = row_count + ? WHERE month = ?",
                    (count, month),
                )
                inserted += count
            insert_rows(
                conn,
                "INSERT INTO latest_fixes (device_key, fix_time_ms, valid_fix_time_ms)",
                newest,
                tail=" ON CONFLICT (device_key) DO UPDATE SET"
                " fix_time_ms = max(fix_time_ms, excluded.fix_time_ms),"
                " valid_fix_time_ms = coalesce(max(valid_fix_time_ms,"
                " excluded.valid_fix_time_ms), valid_fix_time_ms, excluded.valid_fix_time_ms)",
            )
        return inserted

    def import_fix_columns(self, device_ids: Sequence[str], columns: FixColumns) -> int:
        """Bulk import (history from another system, a benchmark's stored fixes): valid
        GNSS fixes as columns, in one transaction; returns how many were new.

        Not in the store contract: a fast path of this store that skips building a Fix per
        row. Rows go to their months' tables in the order given (time order keeps the
        indexes appending); duplicates of (device, ms) are dropped as add_fixes drops them.
        """
        if len(columns) == 0:
            return 0
        inserted = 0
        with self._db.transaction() as conn:
            keys = self._device_keys(conn, device_ids, create=True)
            device_keys = np.array([keys[d] for d in device_ids], dtype=np.int64)
            for month, first_ms, _, part in columns.by_month():
                table = self._partition(conn, month, first_ms)
                count = conn.executemany(
                    f"INSERT INTO {table} (device_key, slot, fix_time_ms, lat, lon,"  # noqa: S608
                    " accuracy_m, valid, received_at_ms, source, cell)"
                    " VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'gnss', ?)"
                    " ON CONFLICT (slot, device_key, fix_time_ms) DO NOTHING",
                    part.rows(device_keys),
                ).rowcount
                conn.execute(
                    "UPDATE fix_partitions SET row_count = row_count + ? WHERE month = ?",
                    (count, month),
                )
                inserted += count
            newest = columns.newest_per_device(len(device_ids))
            conn.executemany(
                "INSERT INTO latest_fixes (device_key, fix_time_ms, valid_fix_time_ms)"
                " VALUES (?, ?, ?) ON CONFLICT (device_key) DO UPDATE SET"
                " fix_time_ms = max(fix_time_ms, excluded.fix_time_ms),"
                " valid_fix_time_ms = max(coalesce(valid_fix_time_ms,"
                " excluded.valid_fix_time_ms), excluded.valid_fix_time_ms)",
                [(int(device_keys[d]), ms, ms) for d, ms in newest],
            )
        return inserted

    def _partition(self, conn: sqlite3.Connection, month: int, some_ms: int) -> str:
        row = conn.execute(
            "SELECT table_name FROM fix_partitions WHERE month = ?", (month,)
        ).fetchone()
        if row is not None:
            return str(row[0])
        _, first, after = month_bounds(some_ms)
        table = table_name(month)
        for statement in partition_ddl(table):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO fix_partitions (month, table_name, start_ms, end_ms) VALUES (?, ?, ?, ?)",
            (month, table, first, after),
        )
        return table

    def _device_keys(
        self, conn: sqlite3.Connection, device_ids: Iterable[str], *, create: bool
    ) -> dict[str, int]:
        wanted = list(dict.fromkeys(device_ids))
        keys: dict[str, int] = {}
        for chunk in chunks(wanted):
            keys.update(
                conn.execute(
                    "SELECT device_id, key FROM fix_devices"  # noqa: S608
                    f" WHERE device_id IN ({placeholders(len(chunk))})",
                    chunk,
                ).fetchall()
            )
        missing = [d for d in wanted if d not in keys]
        if create and missing:
            for device_id in missing:
                cursor = conn.execute(
                    "INSERT INTO fix_devices (device_id) VALUES (?)", (device_id,)
                )
                keys[device_id] = int(cursor.lastrowid or 0)
        return keys

    def drop_fixes_before(self, cutoff: datetime) -> int:
        limit = to_us(cutoff)
        with self._db.transaction() as conn:
            old = conn.execute(
                "SELECT month, table_name, row_count FROM fix_partitions"
                " WHERE end_ms * 1000 <= ? ORDER BY month",
                (limit,),
            ).fetchall()
            for month, table, _ in old:
                conn.execute(f"DROP TABLE {table}")
                conn.execute("DELETE FROM fix_partitions WHERE month = ?", (month,))
        return sum(int(count) for _, _, count in old)

    # -- reading -------------------------------------------------------------------------

    def _partitions(
        self, conn: sqlite3.Connection, low: int | None = None, high: int | None = None
    ) -> list[Partition]:
        """Months meeting [low, high] ms, in time order."""
        return conn.execute(
            "SELECT table_name, start_ms, end_ms, row_count FROM fix_partitions"
            " WHERE end_ms > ? AND start_ms <= ? ORDER BY month",
            (low if low is not None else -(2**62), high if high is not None else 2**62),
        ).fetchall()

    def trail(
        self,
        *,
        start: datetime,
        end: datetime,
        device_ids: Sequence[str] | None = None,
        subject_id: str | None = None,
        valid_only: bool = False,
        limit: int | None = None,
    ) -> list[Fix]:
        if (device_ids is None) == (subject_id is None):
            raise ValueError("give exactly one of device_ids or subject_id")
        low, high = ceil_ms(start), to_ms(end)
        found: list[tuple[int, str, Fix]] = []
        with self._db.snapshot():
            conn = self._db.read()
            if device_ids is not None:
                spans = [(d, low, high) for d in dict.fromkeys(device_ids)]
            else:
                spans = self._subject_spans(conn, str(subject_id), low, high)
            keys = self._device_keys(conn, [d for d, _, _ in spans], create=False)
            valid = " AND valid = 1" if valid_only else ""
            for table, first_ms, end_ms, _ in self._partitions(conn, low, high):
                for slots, chunk_low, chunk_high in slot_chunks(
                    max(low, first_ms), min(high, end_ms - 1)
                ):
                    for device_id, span_low, span_high in spans:
                        a, b = max(span_low, chunk_low), min(span_high, chunk_high)
                        if device_id not in keys or a > b:
                            continue
                        wanted = [s for s in slots if a // SLOT_MS <= s <= b // SLOT_MS]
                        rows = conn.execute(
                            f"SELECT {COLUMNS} FROM {table}"  # noqa: S608
                            f" WHERE slot IN ({placeholders(len(wanted))}) AND device_key = ?"
                            f" AND fix_time_ms BETWEEN ? AND ?{valid}",
                            (*wanted, keys[device_id], a, b),
                        )
                        found.extend((r[0], device_id, fix_from_row(device_id, r)) for r in rows)
                    if limit is not None and len(found) >= limit:
                        break  # later slots hold only later fixes
                if limit is not None and len(found) >= limit:
                    break
        found.sort(key=lambda item: (item[0], item[1]))
        return [fix for _, _, fix in found[:limit]]

    def _subject_spans(
        self, conn: sqlite3.Connection, subject_id: str, low: int, high: int
    ) -> list[tuple[str, int, int]]:
        """(device, first ms, last ms) of each assignment of the subject, within [low, high]."""
        spans = []
        for device_id, start_us, end_us in conn.execute(
            "SELECT device_id, start_us, end_us FROM assignments WHERE subject_id = ?",
            (subject_id,),
        ):
            first = max(low, -(-start_us // 1000))
            last = high if end_us is None else min(high, -(-end_us // 1000) - 1)
            spans.append((device_id, first, last))
        return spans

    def latest_fixes(
        self, device_ids: Sequence[str] | None = None, *, valid_only: bool = False
    ) -> dict[str, Fix]:
        column = "valid_fix_time_ms" if valid_only else "fix_time_ms"
        sql = (
            f"SELECT d.device_id, l.device_key, l.{column} FROM latest_fixes l"  # noqa: S608
            f" JOIN fix_devices d ON d.key = l.device_key WHERE l.{column} IS NOT NULL"
        )
        latest: dict[str, Fix] = {}
        with self._db.snapshot():
            conn = self._db.read()
            if device_ids is None:
                pointers = conn.execute(sql).fetchall()
            else:
                pointers = []
                for chunk in chunks(list(dict.fromkeys(device_ids))):
                    pointers += conn.execute(
                        f"{sql} AND d.device_id IN ({placeholders(len(chunk))})", chunk
                    ).fetchall()
            partitions = self._partitions(conn)
            starts = [p[1] for p in partitions]
            for device_id, key, ms in sorted(pointers):
                index = bisect.bisect_right(starts, ms) - 1
                if index < 0 or ms >= partitions[index][2]:
                    continue  # its month was dropped by retention
                row = conn.execute(
                    f"SELECT {COLUMNS} FROM {partitions[index][0]}"  # noqa: S608
                    " WHERE slot = ? AND device_key = ? AND fix_time_ms = ?",
                    (ms // SLOT_MS, key, ms),
                ).fetchone()
                if row is not None:
                    latest[device_id] = fix_from_row(device_id, row)
        return latest

    def fixes_near(
        self, lon: float, lat: float, radius_m: float, start: datetime, end: datetime
    ) -> list[NearbyFix]:
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"position out of range: lat={lat} lon={lon}")
        singles, ranges = covering_cells(lon, lat, radius_m)
        cell_tests = [(f"cell IN ({placeholders(len(c))})", tuple(c)) for c in chunks(singles)]
        cell_tests += [("cell BETWEEN ? AND ?", r) for r in ranges]
        low, high = ceil_ms(start), to_ms(end)
        hits: list[tuple[int, float, tuple[Any, ...]]] = []
        with self._db.snapshot():
            conn = self._db.read()
            for table, first_ms, end_ms, _ in self._partitions(conn, low, high):
                for slots, a, b in slot_chunks(max(low, first_ms), min(high, end_ms - 1)):
                    for cell_test, cell_args in cell_tests:
                        rows = conn.execute(
                            f"SELECT device_key, {COLUMNS} FROM {table}"  # noqa: S608
                            f" WHERE slot IN ({placeholders(len(slots))}) AND {cell_test}"
                            " AND fix_time_ms BETWEEN ? AND ?",
                            (*slots, *cell_args, a, b),
                        )
                        for r in rows:
                            distance = haversine_m(lat, lon, r[2], r[3])
                            if distance <= radius_m:
                                hits.append((r[0], distance, r[1:]))
            names = self._names_of_keys(conn, {h[0] for h in hits})
            wearers = self._wearers(conn, sorted(set(names.values())))
        result = []
        for key, distance, r in hits:
            device_id, moment_us = names[key], int(r[0]) * 1000
            subject = next(
                (
                    subject
                    for first, last, subject in wearers.get(device_id, ())
                    if first <= moment_us and (last is None or moment_us < last)
                ),
                None,
            )
            result.append(NearbyFix(fix_from_row(device_id, r), subject, distance))
        result.sort(key=lambda hit: (hit.fix.fix_time, hit.fix.device_id))
        return result

    def _names_of_keys(self, conn: sqlite3.Connection, keys: set[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for chunk in chunks(sorted(keys)):
            found.update(
                conn.execute(
                    "SELECT key, device_id FROM fix_devices"  # noqa: S608
                    f" WHERE key IN ({placeholders(len(chunk))})",
                    chunk,
                ).fetchall()
            )
        return found

    def _wearers(
        self, conn: sqlite3.Connection, device_ids: list[str]
    ) -> dict[str, list[tuple[int, int | None, str]]]:
        """Each device's assignments as (start µs, end µs or None, subject)."""
        found: dict[str, list[tuple[int, int | None, str]]] = defaultdict(list)
        for chunk in chunks(device_ids):
            for device_id, subject_id, start_us, end_us in conn.execute(
                "SELECT device_id, subject_id, start_us, end_us FROM assignments"  # noqa: S608
                f" WHERE device_id IN ({placeholders(len(chunk))})",
                chunk,
            ):
                found[device_id].append((start_us, end_us, subject_id))
        return found

    def count_fixes(
        self,
        *,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        low = None if start is None else ceil_ms(start)
        high = None if end is None else to_ms(end)
        total = 0
        with self._db.snapshot():
            conn = self._db.read()
            key = None
            if device_id is not None:
                key = self._device_keys(conn, [device_id], create=False).get(device_id)
                if key is None:
                    return 0
            for table, first_ms, end_ms, rows in self._partitions(conn, low, high):
                a = first_ms if low is None else max(low, first_ms)
                b = end_ms - 1 if high is None else min(high, end_ms - 1)
                if key is None and (a, b) == (first_ms, end_ms - 1):
                    total += rows
                elif key is None:
                    total += conn.execute(
                        f"SELECT count(*) FROM {table} WHERE slot BETWEEN ? AND ?"  # noqa: S608
                        " AND fix_time_ms BETWEEN ? AND ?",
                        (a // SLOT_MS, b // SLOT_MS, a, b),
                    ).fetchone()[0]
                else:
                    for slots, c, d in slot_chunks(a, b):
                        total += conn.execute(
                            f"SELECT count(*) FROM {table}"  # noqa: S608
                            f" WHERE slot IN ({placeholders(len(slots))}) AND device_key = ?"
                            " AND fix_time_ms BETWEEN ? AND ?",
                            (*slots, key, c, d),
                        ).fetchone()[0]
        return total
