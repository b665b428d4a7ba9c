"""Connections to PostgreSQL: a pool, routed per thread like the SQLite store's.

- Every connection is in autocommit and in the UTC time zone, so a read outside a
  transaction sees the latest commit and instants come back aware in UTC.
- `transaction()` takes a connection from the pool for this thread and runs BEGIN/COMMIT
  (ROLLBACK on any exception); a transaction opened inside it on the same thread is a
  SAVEPOINT (psycopg nests them), so a failed inner write leaves the outer one usable - as
  in SQLite, where a refused statement does not end the transaction.
- While a thread holds a transaction its reads go to that connection (it sees its own
  uncommitted writes); `snapshot()` holds one REPEATABLE READ, READ ONLY transaction for a
  consistent multi-read view.
- PostgreSQL allows many writers at once (row locks, not a file lock); where the contract
  depends on an order of commits (the alert history feed) the repository takes a lock.
- Commits are durable before they return: `synchronous_commit` stays at its default `on`
  (checked by the tests), which the monitor relies on before it acknowledges the log.
- Driver errors become the contract's errors (`translate`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from tagwatch.store.errors import ConflictError, MissingReferenceError, StoreError
from tagwatch.store.postgres.migrate import migrate

Connection = psycopg.Connection[TupleRow]
_OPTIONS = "-c TimeZone=UTC"  # instants come back aware in UTC
_APPLICATION = "tagwatch"


def instant(moment: datetime) -> datetime:
    """The instant in UTC; a naive datetime is refused (it would take the server's zone)."""
    if moment.tzinfo is UTC:
        return moment  # `astimezone` would copy it, at ten times the cost of this test
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"instants must be time-zone aware, not {moment!r}")
    return moment.astimezone(UTC)


def opt_instant(moment: datetime | None) -> datetime | None:
    return None if moment is None else instant(moment)


def as_read(moment: datetime) -> datetime:
    """A timestamptz as psycopg reads it: already an aware datetime, so nothing to convert.

    For the shared row decoders (store.*_rows), which take each store's time conversion.
    """
    return moment


def whole_ms(moment: datetime) -> datetime:
    """Truncated to the millisecond: fix and device-event times, and their identity."""
    utc = instant(moment)
    sub_ms = utc.microsecond % 1000  # usually 0: most tags send whole seconds
    return utc.replace(microsecond=utc.microsecond - sub_ms) if sub_ms else utc


def opt_whole_ms(moment: datetime | None) -> datetime | None:
    return None if moment is None else whole_ms(moment)


def translate(error: psycopg.Error) -> StoreError:
    """The contract's error for what PostgreSQL refused."""
    if isinstance(error, pg_errors.ForeignKeyViolation):
        return MissingReferenceError(str(error).strip())
    if isinstance(error, pg_errors.UniqueViolation | pg_errors.ExclusionViolation):
        return ConflictError(str(error).strip())
    return StoreError(str(error).strip())


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.tx_conn: Connection | None = None
        self.snapshot_conn: Connection | None = None
        self.snapshot_depth = 0


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 30.0) -> None:
        self.url = url
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._pool: ConnectionPool[Connection] | None = None
        self._thread = _ThreadState()
        self.schema_version = 0

    # -- lifecycle -----------------------------------------------------------------------

    def connect(self) -> Connection:
        """A new connection of our own (migrations, partition upkeep), not from the pool."""
        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                options=_OPTIONS,
                connect_timeout=max(1, int(self._timeout_s)),
                application_name=_APPLICATION,
            )
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to PostgreSQL: {error}") from error

    def _connection_options(self) -> dict[str, object]:
        return {
            "autocommit": True,
            "options": _OPTIONS,
            "connect_timeout": max(1, int(self._timeout_s)),
            "application_name": _APPLICATION,
        }

    def open(self) -> None:
        if self._pool is not None:
            return
        with self.connect() as conn:
            self.schema_version = migrate(conn)
        pool: ConnectionPool[Connection] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            kwargs=self._connection_options(),
            timeout=self._timeout_s,
            open=False,
            name="tagwatch-store",
        )
        try:
            pool.open(wait=True, timeout=self._timeout_s)
        except Exception as error:
            pool.close()
            raise StoreError(f"cannot open the PostgreSQL pool: {error}") from error
        self._thread = _ThreadState()
        self._pool = pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    def _require_pool(self) -> ConnectionPool[Connection]:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    @property
    def in_transaction(self) -> bool:
        return self._thread.tx_conn is not None

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """The connection this thread should read with right now."""
        current = self._thread.tx_conn or self._thread.snapshot_conn
        if current is not None:
            try:
                yield current
            except psycopg.Error as error:
                raise translate(error) from error
            return
        with self._require_pool().connection() as conn:
            try:
                yield conn
            except psycopg.Error as error:
                raise translate(error) from error

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        state = self._thread
        if state.tx_conn is not None or state.snapshot_conn is not None:
            state.snapshot_depth += 1
            try:
                yield
            finally:
                state.snapshot_depth -= 1
            return
        with self._require_pool().connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            state.snapshot_conn, state.snapshot_depth = conn, 1
            try:
                yield
            finally:
                state.snapshot_conn, state.snapshot_depth = None, 0
                conn.execute("ROLLBACK")  # read only: nothing to commit

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Commit on success, roll back on any exception; nested calls are savepoints."""
        state = self._thread
        if state.tx_conn is not None:
            try:
                with state.tx_conn.transaction():
                    yield state.tx_conn
            except psycopg.Error as error:
                raise translate(error) from error
            return
        with self._require_pool().connection() as conn:
            state.tx_conn = conn
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as error:
                raise translate(error) from error
            finally:
                state.tx_conn = None
