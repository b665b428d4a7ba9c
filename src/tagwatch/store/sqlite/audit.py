"""The audit log in SQLite: one append-only table, hash-chained (tagwatch.store.audit_chain).

Appends take the store's write transaction (BEGIN IMMEDIATE, one writer, across processes
too), read the chain's last hash and insert the next record in it, so the chain stays
linear however many threads and processes record at once. Triggers refuse UPDATE and any
DELETE a retention checkpoint does not cover; `verify` does not rely on them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime

from tagwatch.store.audit_chain import (
    GENESIS_HASH,
    AuditCheckpoint,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainReport,
    canonical_detail,
    entry_hash,
)
from tagwatch.store.audit_rows import (
    appended_record,
    audit_log_values,
    audit_record_from_row,
    entry_as_stored,
)
from tagwatch.store.audit_verify import verify_chain
from tagwatch.store.sqlite.columns import from_us, to_us
from tagwatch.store.sqlite.database import Database

# In the order store.audit_rows reads and writes them: change both together.
_COLUMNS = (
    "seq, at_us, action, username, organisation_id, source, subject_ids_json, purpose_code,"
    " purpose_text, detail_json, prev_hash, hash"
)
MAX_PAGE = 1000


class SqliteAudit:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- writing -------------------------------------------------------------------------

    def append(self, entry: AuditEntry) -> AuditRecord:
        detail_json = canonical_detail(entry.detail)  # TypeError before taking the writer
        # What is hashed is what will be read back: JSON round-trips tuples into lists.
        stored = entry_as_stored(entry, at=from_us(to_us(entry.at)), detail_json=detail_json)
        with self._db.transaction() as conn:
            last_seq, prev_hash = self._chain_end(conn)
            seq = max(last_seq, _highest_issued(conn)) + 1
            digest = entry_hash(stored, seq=seq, prev_hash=prev_hash)
            conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                audit_log_values(
                    stored,
                    seq=seq,
                    detail_json=detail_json,
                    prev_hash=prev_hash,
                    digest=digest,
                    instant=to_us,
                ),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO audit_subjects (subject_id, seq) VALUES (?, ?)",
                [(subject, seq) for subject in stored.subject_ids],
            )
        return appended_record(stored, seq=seq, prev_hash=prev_hash, digest=digest)

    def _chain_end(self, conn: sqlite3.Connection) -> tuple[int, str]:
        row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        checkpoint = _checkpoint(conn)
        if checkpoint is not None:
            return checkpoint.through_seq, checkpoint.through_hash
        return 0, GENESIS_HASH

    def purge_before(self, cutoff: datetime, *, now: datetime) -> AuditCheckpoint | None:
        limit = to_us(cutoff)
        with self._db.transaction() as conn:
            # Only a prefix of the chain can go: up to the first record at or after cutoff.
            first_kept = conn.execute(
                "SELECT min(seq) FROM audit_log WHERE at_us >= ?", (limit,)
            ).fetchone()[0]
            bound = "" if first_kept is None else " WHERE seq < ?"
            row = conn.execute(
                f"SELECT seq, hash FROM audit_log{bound} ORDER BY seq DESC LIMIT 1",  # noqa: S608
                () if first_kept is None else (first_kept,),
            ).fetchone()
            if row is None:
                return None
            checkpoint = AuditCheckpoint(int(row[0]), str(row[1]), from_us(to_us(now)))
            conn.execute(
                "INSERT INTO audit_checkpoints (through_seq, through_hash, at_us) VALUES (?,?,?)",
                (checkpoint.through_seq, checkpoint.through_hash, to_us(checkpoint.at)),
            )
            conn.execute("DELETE FROM audit_log WHERE seq <= ?", (checkpoint.through_seq,))
            conn.execute("DELETE FROM audit_subjects WHERE seq <= ?", (checkpoint.through_seq,))
        return checkpoint

    # -- reading -------------------------------------------------------------------------

    def search(self, query: AuditQuery, *, after_seq: int = 0, limit: int = 100) -> AuditPage:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE} records")
        where: list[str] = ["a.seq > ?"]
        args: list[object] = [after_seq]
        join = ""
        if query.subject_id is not None:
            join = " JOIN audit_subjects s ON s.seq = a.seq AND s.subject_id = ?"
            args.insert(0, query.subject_id)
        if query.username is not None:
            where.append("a.username = ?")
            args.append(query.username)
        if query.organisation_id is not None:
            where.append("a.organisation_id = ?")
            args.append(query.organisation_id)
        if query.action:
            if query.action.endswith("."):
                where.append("substr(a.action, 1, ?) = ?")
                args += [len(query.action), query.action]
            else:
                where.append("a.action = ?")
                args.append(query.action)
        if query.start is not None:
            where.append("a.at_us >= ?")
            args.append(to_us(query.start))
        if query.end is not None:
            where.append("a.at_us <= ?")
            args.append(to_us(query.end))
        columns = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
        rows = (
            self._db.read()
            .execute(
                f"SELECT {columns} FROM audit_log a{join} WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY a.seq LIMIT ?",
                (*args, limit + 1),
            )
            .fetchall()
        )
        records = tuple(audit_record_from_row(r, from_us) for r in rows[:limit])
        more = len(rows) > limit
        return AuditPage(records, records[-1].seq if more and records else None)

    def head(self) -> AuditRecord | None:
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1")  # noqa: S608
            .fetchone()
        )
        return None if row is None else audit_record_from_row(row, from_us)

    def checkpoint(self) -> AuditCheckpoint | None:
        return _checkpoint(self._db.read())

    def verify(self) -> ChainReport:
        with self._db.snapshot():
            conn = self._db.read()
            return verify_chain(
                _all_records(conn),
                _Lookup(conn),
                checkpoint=_checkpoint(conn),
                highest_issued=_highest_issued(conn),
                purge_vouch=_purge_vouch(conn),
            )


class _Lookup:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _one(self, where: str, value: object) -> AuditRecord | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {where} = ? LIMIT 1",  # noqa: S608
            (value,),
        ).fetchone()
        return None if row is None else audit_record_from_row(row, from_us)

    def by_hash(self, hash_: str) -> AuditRecord | None:
        return self._one("hash", hash_)

    def by_prev_hash(self, prev_hash: str) -> AuditRecord | None:
        return self._one("prev_hash", prev_hash)

    def by_seq(self, seq: int) -> AuditRecord | None:
        return self._one("seq", seq)


def _all_records(conn: sqlite3.Connection) -> Iterator[AuditRecord]:
    # A cursor of its own: the look-ups above run while this one is being read.
    cursor = conn.cursor()
    cursor.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")  # noqa: S608
    try:
        while rows := cursor.fetchmany(1000):
            yield from (audit_record_from_row(r, from_us) for r in rows)
    finally:
        cursor.close()


def _checkpoint(conn: sqlite3.Connection) -> AuditCheckpoint | None:
    row = conn.execute(
        "SELECT through_seq, through_hash, at_us FROM audit_checkpoints"
        " ORDER BY through_seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else AuditCheckpoint(int(row[0]), str(row[1]), from_us(row[2]))


def _highest_issued(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    return 0 if row is None else int(row[0])


def _purge_vouch(conn: sqlite3.Connection) -> tuple[int, str] | None:
    row = conn.execute(
        "SELECT json_extract(detail_json, '$.audit.through_seq'),"
        " json_extract(detail_json, '$.audit.through_hash') FROM audit_log"
        " WHERE action = 'retention.purge'"
        " AND json_extract(detail_json, '$.audit.through_seq') IS NOT NULL"
        " ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))
