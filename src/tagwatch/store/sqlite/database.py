"""Connections to one SQLite file: one writer behind a lock, a reader per thread.

- WAL journal, so readers never block the writer nor the writer readers.
- `synchronous=FULL` on the writer: a committed transaction survives power loss, which
  the monitor relies on before it acknowledges the log ("nothing acknowledged is lost").
  NORMAL would only guarantee consistency, not durability of the last commits.
- One writer connection, guarded by a lock, taken with BEGIN IMMEDIATE so a second process
  waits (busy_timeout) instead of failing half-way through.
- Readers: one connection per thread, `query_only`, autocommit, so each read sees the
  latest commit; `snapshot()` holds one read transaction for a consistent multi-read view.

Routing is per thread: while a thread holds the write transaction, its reads and writes go
to the writer connection (it reads its own uncommitted writes), and a write or transaction
started inside it becomes a savepoint.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tagwatch.store.errors import StoreError
from tagwatch.store.sqlite.columns import translate
from tagwatch.store.sqlite.migrate import migrate


def make_durable(writer: sqlite3.Connection, path: Path, error: type[Exception]) -> None:
    """WAL with a full sync on every commit: what was committed survives a power cut, so
    a device is never acknowledged for data that could still be lost."""
    mode = writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise error(f"{path}: WAL journal mode unavailable (got {mode})")
    writer.execute("PRAGMA synchronous=FULL")


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.tx_depth = 0
        self.snapshot_depth = 0
        self.reader: sqlite3.Connection | None = None


class Database:
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._writer: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._thread = _ThreadState()
        self.schema_version = 0

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        try:
            make_durable(writer, self.path, StoreError)
            writer.execute("PRAGMA foreign_keys=ON")
            self.schema_version = migrate(writer)
        except BaseException:
            writer.close()
            raise
        self._thread = _ThreadState()
        self._writer = writer

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        if self._writer is not None:
            with self._write_lock:
                self._writer.close()
                self._writer = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        return conn

    @property
    def writer(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    @property
    def in_transaction(self) -> bool:
        """Whether this thread holds the write transaction."""
        return self._thread.tx_depth > 0

    # -- reading -------------------------------------------------------------------------

    def read(self) -> sqlite3.Connection:
        """The connection this thread should read with right now."""
        if self._thread.tx_depth:
            return self.writer
        reader = self._thread.reader
        if reader is None:
            if self._writer is None:
                raise StoreError("the store is not open")
            reader = self._connect()
            reader.execute("PRAGMA query_only=ON")
            with self._readers_lock:
                self._readers.append(reader)
            self._thread.reader = reader
        return reader

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._thread.tx_depth or self._thread.snapshot_depth:
            self._thread.snapshot_depth += 1
            try:
                yield
            finally:
                self._thread.snapshot_depth -= 1
            return
        reader = self.read()
        reader.execute("BEGIN")
        self._thread.snapshot_depth = 1
        try:
            yield
        finally:
            self._thread.snapshot_depth = 0
            reader.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Commit on success, roll back on any exception; nested calls are savepoints."""
        depth = self._thread.tx_depth
        if depth:
            yield from self._savepoint(depth)
            return
        writer = self.writer
        with self._write_lock:
            writer.execute("BEGIN IMMEDIATE")
            self._thread.tx_depth = 1
            try:
                yield writer
            except sqlite3.IntegrityError as error:
                writer.execute("ROLLBACK")
                raise translate(error) from error
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            else:
                try:
                    writer.execute("COMMIT")
                except sqlite3.Error:
                    if writer.in_transaction:
                        writer.execute("ROLLBACK")
                    raise
            finally:
                self._thread.tx_depth = 0

    def _savepoint(self, depth: int) -> Iterator[sqlite3.Connection]:
        writer = self.writer
        name = f"sp{depth}"
        writer.execute(f"SAVEPOINT {name}")
        self._thread.tx_depth = depth + 1
        try:
            yield writer
        except sqlite3.IntegrityError as error:
            writer.execute(f"ROLLBACK TO {name}")
            writer.execute(f"RELEASE {name}")
            raise translate(error) from error
        except BaseException:
            writer.execute(f"ROLLBACK TO {name}")
            writer.execute(f"RELEASE {name}")
            raise
        else:
            writer.execute(f"RELEASE {name}")
        finally:
            self._thread.tx_depth = depth
