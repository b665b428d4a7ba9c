"""The embedded log: an SQLite inbox table, by default in the store's own database file.

Decision: the inbox lives in the same file as the store (DESIGN.md), not in a sibling
`<db>.inbox` file, because then the monitor's `mark_done` joins the store transaction that
commits the batch's fixes, episodes and alerts (`joins_store_transaction`): a record is
done exactly when its effects are committed, so after a crash nothing is replayed at all,
and the idempotent writes are a second line of defence rather than the first. The cost is
writer contention: SQLite has one writer per file, so an `append` waits while the monitor
commits a batch (tens of milliseconds for thousands of fixes; the engine runs before the
transaction, not inside it). A sibling file removes that wait and is one URL away
(`TAGWATCH_LOG=sqlite:///path/to/inbox.db`); marks then follow the store's commit and a
crash between the two replays records whose writes are idempotent.

- WAL journal and `synchronous=FULL` on the writer connection (the setting is per
  connection; in the store's file the store's writer, which has it too): `append` returns
  only after its transaction is committed and the WAL is fsync'd, so a record acknowledged
  to a device survives a crash or a power cut.
- Group commit: appends that arrive while another is being committed wait, and the next
  one to take the write lock commits all of them in one transaction and one fsync (each
  still returns only after that commit). Many small requests, or OsmAnd's one fix per
  request, then cost one fsync per group instead of one each; if the commit fails, every
  append of the group raises and none is acknowledged.
- Seqs come from `AUTOINCREMENT`: they increase in commit order and are never reused after
  `prune`, because SQLite serialises writers and a seq is taken inside the write.
- Dedupe by key happens in memory (`RecentKeys`, tagwatch.log.recent_keys says why not a
  UNIQUE index): the appending process remembers every key it committed within the dedupe
  window (10 minutes of received time by default, as the NATS log's duplicate window),
  loaded from the table on its first append, so a retry after a lost acknowledgement or a
  restart is dropped. A duplicate that reaches the table anyway (older than the window,
  or sent to a second process appending to the same file) is harmless: every write
  downstream is idempotent. Tables made with the old UNIQUE key are rebuilt on open.
- Done records stay until `prune` removes them (the monitor prunes after its dedupe
  window); `prune` also forgets their keys.

Handoff (`keep_appended`, switched on by bootstrap when the monitor runs in this process):
each committed record is also kept in memory by its seq, and `pending` reads only the
pending seqs from the table and takes those records from memory instead of reading and
parsing their rows again (tagwatch.log.handoff says why that cannot hand over anything
but what the row holds). The table still decides what is pending and in which order.

Inside `store.transaction()` on this thread, `mark_done` writes through the store's writer
(`SqliteStore.write_connection()`); an `append` there is refused, because it would wait for
the very transaction that holds the write lock and could not be durable before returning.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from tagwatch.log.codec import PayloadError, dumps, loads
from tagwatch.log.contract import (
    ALL_DEVICES,
    EVENT,
    FIX,
    DeviceScope,
    InboxRecord,
    LogError,
    NewRecord,
    RecordKind,
)
from tagwatch.log.handoff import KEPT_RECORDS, Handoff
from tagwatch.log.recent_keys import RecentKeys
from tagwatch.store.errors import StoreError
from tagwatch.store.sqlite.database import make_durable
from tagwatch.store.sqlite.many_rows import insert_rows

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS inbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('fix', 'event')),
        device_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at_us INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (seq) WHERE done = 0",
    "CREATE INDEX IF NOT EXISTS inbox_done ON inbox (received_at_us) WHERE done = 1",
)
_INDEXES = SCHEMA[1:]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEDUPE_WINDOW = timedelta(minutes=10)  # the monitor's default (MonitorSettings.dedupe_window_s)


class SharedStore(Protocol):
    """The part of `SqliteStore` the inbox needs when it shares the store's file."""

    @property
    def path(self) -> Path: ...
    def transaction(self) -> AbstractContextManager[object]: ...
    def write_connection(self) -> sqlite3.Connection: ...


@dataclass(slots=True, eq=False)
class _Append:
    """One caller's rows, waiting for a group commit; `done` set under the write lock."""

    rows: list[tuple[str, str, str, str, int]]
    records: Sequence[NewRecord]
    added: int = 0
    seqs: list[tuple[int, NewRecord]] = field(default_factory=list)  # new rows, for the handoff
    done: bool = False
    error: BaseException | None = None


class SqliteInbox:
    """The `Log` over an SQLite table; `store` given: the inbox shares that store's file."""

    def __init__(
        self,
        path: str | Path,
        *,
        store: SharedStore | None = None,
        busy_timeout_s: float = 30.0,
        dedupe_window: timedelta = DEDUPE_WINDOW,
    ) -> None:
        self.path = Path(path)
        if store is not None and store.path.resolve() != self.path.resolve():
            raise ValueError(f"the inbox at {self.path} is not in the store's file {store.path}")
        self._store = store
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()  # held by the thread committing a group
        self._read_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Append] = []  # appends waiting for the next group commit
        self.handoff: Handoff | None = None  # see `keep_appended`
        self._dedupe_window_us = _duration_us(dedupe_window)
        self._recent: RecentKeys | None = None  # loaded by the first append (write lock held)

    @classmethod
    def in_store_file(
        cls,
        store: SharedStore,
        *,
        busy_timeout_s: float = 30.0,
        dedupe_window: timedelta = DEDUPE_WINDOW,
    ) -> SqliteInbox:
        return cls(
            store.path, store=store, busy_timeout_s=busy_timeout_s, dedupe_window=dedupe_window
        )

    @property
    def joins_store_transaction(self) -> bool:
        return self._store is not None

    def keep_appended(self, *, limit: int = KEPT_RECORDS) -> None:
        """Keep what this process appends for `pending` (only when this process's own
        monitor drains the inbox: nobody else would take the records off the handoff)."""
        if self.handoff is None:
            self.handoff = Handoff(limit=limit)

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        try:
            make_durable(writer, self.path, LogError)
            writer.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA:
                    writer.execute(statement)
                _drop_unique_key(writer)
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            writer.execute("COMMIT")
            reader = self._connect()
            reader.execute("PRAGMA query_only=ON")
        except BaseException:
            writer.close()
            raise
        self._writer, self._reader = writer, reader

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def __enter__(self) -> SqliteInbox:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        return conn

    # -- the Log contract ----------------------------------------------------------------

    def append(self, records: Sequence[NewRecord]) -> int:
        if not records:
            return 0
        if self._joined_writer() is not None:
            raise LogError("append inside store.transaction() would wait for that transaction")
        job = _Append(_rows(records), records)
        with self._queue_lock:
            self._queue.append(job)
        with self._write_lock:
            if not job.done:  # nobody committed it while this thread waited: lead
                with self._queue_lock:
                    jobs, self._queue = self._queue, []
                self._commit(jobs)
        if job.error is not None:
            raise LogError(f"the inbox could not store the records: {job.error}") from job.error
        return job.added

    def _commit(self, jobs: list[_Append]) -> None:
        """One transaction, one fsync, for every append queued (group commit)."""
        handoff = self.handoff
        remembered: list[str] = []  # keys this group adds to `recent`, forgotten if it fails
        try:
            with self._transaction() as writer:
                recent = self._recent_keys(writer)
                fresh = [_fresh(job, recent, remembered) for job in jobs]
                rows = [row for job_fresh in fresh for row, _ in job_fresh]
                # The whole group in as few statements as it takes (many_rows says why).
                inserted = insert_rows(
                    writer,
                    "INSERT INTO inbox (key, kind, device_id, payload, received_at_us)",
                    rows,
                )
                # AUTOINCREMENT in one writer's transaction: the rows took consecutive seqs,
                # in the order given, ending at the last rowid.
                seq = 0 if inserted.last_rowid is None else inserted.last_rowid - len(rows) + 1
                for job, job_fresh in zip(jobs, fresh, strict=True):
                    job.added = len(job_fresh)
                    if handoff is not None:
                        job.seqs = [(seq + i, record) for i, (_, record) in enumerate(job_fresh)]
                    seq += len(job_fresh)
            if handoff is not None:  # committed: only now are these seqs final
                handoff.keep(_handed(job.seqs for job in jobs))
        except BaseException as error:  # every queued append fails: none is acknowledged
            if self._recent is not None:
                self._recent.forget_all(remembered)
            for job in jobs:
                job.error = error
                job.added = 0
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and the like stop the leader too
        finally:
            for job in jobs:
                job.done = True

    def _recent_keys(self, writer: sqlite3.Connection) -> RecentKeys:
        """The keys within the dedupe window, read from the table on first use."""
        if self._recent is None:
            recent = RecentKeys(self._dedupe_window_us)
            newest = writer.execute("SELECT max(received_at_us) FROM inbox").fetchone()[0]
            if newest is not None:
                rows = writer.execute(
                    "SELECT key, received_at_us FROM inbox WHERE received_at_us >= ? ORDER BY seq",
                    (newest - self._dedupe_window_us,),
                )
                for key, received_us in rows:
                    recent.add(key, received_us)
            self._recent = recent
        return self._recent

    def pending(self, limit: int) -> list[InboxRecord]:
        if limit < 1:
            return []
        if self.handoff is not None:
            return self._pending_handed_over(limit, self.handoff)
        with self._read_lock:
            rows = (
                self._open_reader()
                .execute(
                    "SELECT seq, key, kind, device_id, payload, received_at_us FROM inbox"
                    " WHERE done = 0 ORDER BY seq LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        instants: dict[int, datetime] = {}  # a request's records share their received_at
        return [_record(row, instants) for row in rows]

    def _pending_handed_over(self, limit: int, handoff: Handoff) -> list[InboxRecord]:
        """`pending`, with the records this process appended taken from the handoff.

        The table still says which seqs are pending (an index-only read); only the rows
        the handoff lacks are read and parsed. Both reads see one snapshot, so a record
        read back is one the first read listed.
        """
        with self._read_lock:
            reader = self._open_reader()
            reader.execute("BEGIN")
            try:
                seqs = [
                    seq
                    for (seq,) in reader.execute(
                        "SELECT seq FROM inbox WHERE done = 0 ORDER BY seq LIMIT ?", (limit,)
                    )
                ]
                handed = handoff.take(seqs)
                rows: list[tuple[int, str, str, str, str, int]] = []
                if len(handed) < len(seqs):
                    for first, last in _ranges([seq for seq in seqs if seq not in handed]):
                        rows += reader.execute(
                            "SELECT seq, key, kind, device_id, payload, received_at_us FROM inbox"
                            " WHERE seq BETWEEN ? AND ? AND done = 0 ORDER BY seq",
                            (first, last),
                        ).fetchall()
            finally:
                reader.execute("COMMIT")
        instants: dict[int, datetime] = {}
        for row in rows:
            handed[row[0]] = _record(row, instants)
        return [handed[seq] for seq in seqs]

    def mark_done(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        if self.handoff is not None:
            self.handoff.forget(seqs)
        ranges = list(_ranges(seqs))
        sql = "UPDATE inbox SET done = 1 WHERE seq BETWEEN ? AND ? AND done = 0"
        joined = self._joined_writer()
        if joined is not None:
            joined.executemany(sql, ranges)  # commits (or rolls back) with the store
            return
        with self._write_lock, self._transaction() as writer:
            writer.executemany(sql, ranges)

    def count_pending(self) -> int:
        with self._read_lock:
            row = self._open_reader().execute("SELECT count(*) FROM inbox WHERE done = 0")
            return int(row.fetchone()[0])

    def prune(self, before: datetime) -> int:
        if self._joined_writer() is not None:
            raise LogError("prune inside store.transaction() would wait for that transaction")
        with self._write_lock:
            with self._transaction() as writer:
                pruned = writer.execute(
                    "DELETE FROM inbox WHERE done = 1 AND received_at_us < ?"
                    " RETURNING key, received_at_us",
                    (_to_us(before),),
                ).fetchall()
            if self._recent is not None:  # committed: their keys no longer dedupe
                for key, received_us in pruned:
                    self._recent.forget(key, received_us)
            return len(pruned)

    def device_scope(self) -> DeviceScope:
        return ALL_DEVICES  # one inbox, one monitor: every device

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (and fsync'd) when the block ends.

        Sharing the store's file, it is the store's transaction on the store's writer: the
        monitor's commits and these appends then queue on one lock in this process, instead
        of two connections meeting SQLite's busy handler, which sleeps and retries.
        """
        if self._store is not None:
            with self._store.transaction():
                yield self._store.write_connection()
            return
        writer = self._open_writer()
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield writer
        except BaseException:
            writer.execute("ROLLBACK")
            raise
        writer.execute("COMMIT")  # synchronous=FULL: on disk when this returns

    def _joined_writer(self) -> sqlite3.Connection | None:
        """The store's writer if this thread is inside a store transaction on our file."""
        if self._store is None:
            return None
        try:
            return self._store.write_connection()
        except StoreError:
            return None

    def _open_writer(self) -> sqlite3.Connection:
        if self._writer is None:
            raise LogError("the inbox is not open")
        return self._writer

    def _open_reader(self) -> sqlite3.Connection:
        if self._reader is None:
            raise LogError("the inbox is not open")
        return self._reader


def _record(row: tuple[int, str, str, str, str, int], instants: dict[int, datetime]) -> InboxRecord:
    seq, key, kind, device_id, payload, received_us = row
    try:
        body = loads(payload)
    except PayloadError:
        body = {}  # the monitor refuses it by name instead of stalling on it
    received_at = instants.get(received_us)
    if received_at is None:
        received_at = instants[received_us] = _from_us(received_us)
    return InboxRecord(seq, key, _kind(kind), device_id, body, received_at)


def _rows(records: Sequence[NewRecord]) -> list[tuple[str, str, str, str, int]]:
    """The table's rows; an append's records usually share one `received_at` (one request
    or one group of packets), converted once."""
    instants: dict[datetime, int] = {}
    rows: list[tuple[str, str, str, str, int]] = []
    for r in records:
        received_us = instants.get(r.received_at)
        if received_us is None:
            received_us = instants[r.received_at] = _to_us(r.received_at)
        rows.append((r.key, r.kind, r.device_id, dumps(r.payload), received_us))
    return rows


def _fresh(
    job: _Append, recent: RecentKeys, remembered: list[str]
) -> list[tuple[tuple[str, str, str, str, int], NewRecord]]:
    """The job's rows (with their records) whose keys are new, each key remembered at once
    so a repeat later in the same group is dropped too."""
    fresh = []
    for row, record in zip(job.rows, job.records, strict=True):
        key = row[0]
        if key not in recent:
            recent.add(key, row[4])
            remembered.append(key)
            fresh.append((row, record))
    return fresh


def _drop_unique_key(writer: sqlite3.Connection) -> None:
    """Rebuild an inbox made with `key ... UNIQUE` (before dedupe moved to memory).

    SQLite cannot drop a constraint's index, so the rows move to a table without it. The
    AUTOINCREMENT high-water mark is carried over: seqs must never be reused.
    """
    unique = writer.execute(
        "SELECT 1 FROM pragma_index_list('inbox') WHERE origin = 'u'"
    ).fetchone()
    if unique is None:
        return
    high = writer.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
    writer.execute(SCHEMA[0].replace("inbox (", "inbox_rebuilt (", 1))
    writer.execute(
        "INSERT INTO inbox_rebuilt (seq, key, kind, device_id, payload, received_at_us, done)"
        " SELECT seq, key, kind, device_id, payload, received_at_us, done FROM inbox ORDER BY seq"
    )
    writer.execute("DROP TABLE inbox")
    writer.execute("ALTER TABLE inbox_rebuilt RENAME TO inbox")
    if high is not None:
        writer.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'inbox'", (high[0],)
        )
        writer.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox', ?"
            " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox')",
            (high[0],),
        )
    for statement in _INDEXES:
        writer.execute(statement)


def _handed(jobs_seqs: Iterator[list[tuple[int, NewRecord]]]) -> Iterator[InboxRecord]:
    """The committed records as `pending` would read them back (received_at in UTC)."""
    instants: dict[datetime, datetime] = {}
    for seqs in jobs_seqs:
        for seq, record in seqs:
            received_at = instants.get(record.received_at)
            if received_at is None:
                received_at = instants[record.received_at] = _from_us(_to_us(record.received_at))
            # The payload object itself: the codec builds JSON-shaped payloads (lists, finite
            # floats; `dumps` refuses anything else), so it equals what `loads` reads back.
            payload = record.payload
            yield InboxRecord(
                seq, record.key, record.kind, record.device_id, payload, received_at, record.decoded
            )


def _kind(text: str) -> RecordKind:
    if text == FIX:
        return FIX
    if text == EVENT:
        return EVENT
    raise LogError(f"inbox row of unknown kind {text!r}")


def _ranges(seqs: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Sorted seqs as (first, last) runs: a batch of 5000 is usually one range."""
    ordered = sorted(set(seqs))
    for _, run in itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0]):
        values = [seq for _, seq in run]
        yield values[0], values[-1]


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("instants must be time-zone aware")
    return _duration_us(moment - _EPOCH)


def _duration_us(span: timedelta) -> int:
    return span.days * 86_400_000_000 + span.seconds * 1_000_000 + span.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)
