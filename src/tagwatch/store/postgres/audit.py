"""The audit log in PostgreSQL: one append-only table, hash-chained (store.audit_chain).

An append locks the single row of `audit_head` (UPDATE ... RETURNING), which hands out the
next seq and queues every other appender - in any process - until this transaction ends,
so the chain stays linear: the last hash read is the last one committed. Triggers refuse
UPDATE and any DELETE a retention checkpoint does not cover; `verify` does not rely on them.
"""

from __future__ import annotations

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
from tagwatch.store.errors import StoreError
from tagwatch.store.postgres.database import Connection, Database, as_read, instant

# In the order store.audit_rows reads and writes them: change both together.
_COLUMNS = (
    "seq, at, action, username, organisation_id, source, subject_ids_json, purpose_code,"
    " purpose_text, detail_json, prev_hash, hash"
)
MAX_PAGE = 1000


class PostgresAudit:
    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> AuditRecord:
        detail_json = canonical_detail(entry.detail)  # TypeError before any write
        stored = entry_as_stored(entry, at=instant(entry.at), detail_json=detail_json)
        with self._db.transaction() as conn:
            row = conn.execute(
                "UPDATE audit_head SET highest_seq = highest_seq + 1 RETURNING highest_seq"
            ).fetchone()
            if row is None:
                raise StoreError("the audit log has no head row (migration 0002)")
            seq = int(row[0])
            prev_hash = _chain_end(conn)
            digest = entry_hash(stored, seq=seq, prev_hash=prev_hash)
            conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS})"  # noqa: S608
                f" VALUES ({', '.join(['%s'] * 12)})",
                audit_log_values(
                    stored,
                    seq=seq,
                    detail_json=detail_json,
                    prev_hash=prev_hash,
                    digest=digest,
                    instant=instant,
                ),
            )
            if stored.subject_ids:
                conn.execute(
                    "INSERT INTO audit_subjects (subject_id, seq)"
                    " SELECT DISTINCT s, %s FROM unnest(%s::text[]) AS s",
                    (seq, list(stored.subject_ids)),
                )
        return appended_record(stored, seq=seq, prev_hash=prev_hash, digest=digest)

    def purge_before(self, cutoff: datetime, *, now: datetime) -> AuditCheckpoint | None:
        limit = instant(cutoff)
        with self._db.transaction() as conn:
            conn.execute("SELECT highest_seq FROM audit_head FOR UPDATE")  # no append meanwhile
            row = conn.execute(
                "SELECT seq, hash FROM audit_log WHERE seq < coalesce((SELECT min(seq)"
                " FROM audit_log WHERE at >= %s), 'Infinity'::numeric)"
                " ORDER BY seq DESC LIMIT 1",
                (limit,),
            ).fetchone()
            if row is None:
                return None
            checkpoint = AuditCheckpoint(int(row[0]), str(row[1]), instant(now))
            conn.execute(
                "INSERT INTO audit_checkpoints (through_seq, through_hash, at) VALUES (%s, %s, %s)",
                (checkpoint.through_seq, checkpoint.through_hash, checkpoint.at),
            )
            conn.execute("DELETE FROM audit_log WHERE seq <= %s", (checkpoint.through_seq,))
            conn.execute("DELETE FROM audit_subjects WHERE seq <= %s", (checkpoint.through_seq,))
        return checkpoint

    def search(self, query: AuditQuery, *, after_seq: int = 0, limit: int = 100) -> AuditPage:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"a page holds 1 to {MAX_PAGE} records")
        where: list[str] = ["a.seq > %s"]
        args: list[object] = [after_seq]
        join = ""
        if query.subject_id is not None:
            join = " JOIN audit_subjects s ON s.seq = a.seq AND s.subject_id = %s"
            args.insert(0, query.subject_id)
        if query.username is not None:
            where.append("a.username = %s")
            args.append(query.username)
        if query.organisation_id is not None:
            where.append("a.organisation_id = %s")
            args.append(query.organisation_id)
        if query.action:
            if query.action.endswith("."):
                where.append("left(a.action, %s) = %s")
                args += [len(query.action), query.action]
            else:
                where.append("a.action = %s")
                args.append(query.action)
        if query.start is not None:
            where.append("a.at >= %s")
            args.append(instant(query.start))
        if query.end is not None:
            where.append("a.at <= %s")
            args.append(instant(query.end))
        columns = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM audit_log a{join} WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY a.seq LIMIT %s",
                (*args, limit + 1),
            ).fetchall()
        records = tuple(audit_record_from_row(r, as_read) for r in rows[:limit])
        more = len(rows) > limit
        return AuditPage(records, records[-1].seq if more and records else None)

    def head(self) -> AuditRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"  # noqa: S608
            ).fetchone()
        return None if row is None else audit_record_from_row(row, as_read)

    def checkpoint(self) -> AuditCheckpoint | None:
        with self._db.read() as conn:
            return _checkpoint(conn)

    def verify(self) -> ChainReport:
        with self._db.snapshot(), self._db.read() as conn:
            row = conn.execute("SELECT highest_seq FROM audit_head").fetchone()
            return verify_chain(
                _all_records(conn),
                _Lookup(conn),
                checkpoint=_checkpoint(conn),
                highest_issued=int(row[0]) if row else 0,
                purge_vouch=_purge_vouch(conn),
            )


class _Lookup:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _one(self, where: str, value: object) -> AuditRecord | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {where} = %s"  # noqa: S608
            " ORDER BY seq LIMIT 1",
            (value,),
        ).fetchone()
        return None if row is None else audit_record_from_row(row, as_read)

    def by_hash(self, hash_: str) -> AuditRecord | None:
        return self._one("hash", hash_)

    def by_prev_hash(self, prev_hash: str) -> AuditRecord | None:
        return self._one("prev_hash", prev_hash)

    def by_seq(self, seq: int) -> AuditRecord | None:
        return self._one("seq", seq)


def _all_records(conn: Connection) -> Iterator[AuditRecord]:
    # Keyset pages: the look-ups above use the same connection while this is being read.
    after = -1
    while True:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT 1000",  # noqa: S608
            (after,),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            yield audit_record_from_row(r, as_read)
        after = int(rows[-1][0])


def _chain_end(conn: Connection) -> str:
    row = conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if row is not None:
        return str(row[0])
    checkpoint = _checkpoint(conn)
    return checkpoint.through_hash if checkpoint is not None else GENESIS_HASH


def _checkpoint(conn: Connection) -> AuditCheckpoint | None:
    row = conn.execute(
        "SELECT through_seq, through_hash, at FROM audit_checkpoints"
        " ORDER BY through_seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else AuditCheckpoint(int(row[0]), str(row[1]), row[2])


def _purge_vouch(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(
        "SELECT detail_json::jsonb #>> '{audit,through_seq}',"
        " detail_json::jsonb #>> '{audit,through_hash}' FROM audit_log"
        " WHERE action = 'retention.purge'"
        " AND detail_json::jsonb #>> '{audit,through_seq}' IS NOT NULL"
        " ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))
