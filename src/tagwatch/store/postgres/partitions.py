"""Daily partitions of the `fixes` table: made ahead of the data, dropped for retention.

A fix goes to the partition of its UTC day, `fixes_YYYYMMDD`. Before `add_fixes` writes a
batch, the partitions of its days (and of the day after the newest, so midnight never
waits) are created if missing - on a connection of their own, in a short transaction of
their own, for two reasons:

- `CREATE TABLE ... PARTITION OF` locks the parent table exclusively until its transaction
  ends. Done inside the monitor's transaction it would stall every reader of fixes until
  that commit, and two writers creating partitions would deadlock each other.
- A partition made and committed at once is never lost with a rolled-back batch.

The creator waits at most `lock_wait_ms` for that lock (not at all when the caller's own
transaction already touched `fixes`, which would make it wait for itself). If it cannot
have it, the rows go to `fixes_default`, which takes any day: nothing is refused and
every query still finds them. The day is remembered and its partition is made at the next
chance, moving the day's rows out of the default partition in the same transaction.

Processes take turns with an advisory lock; each keeps a cache of the days it knows exist.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql

from tagwatch.store.postgres.database import Connection, Database

_NAME = re.compile(r"^fixes_(\d{4})(\d{2})(\d{2})$")
_CREATE_LOCK = 0x7467_6670  # "tgfp": the advisory lock partition makers take turns on
DEFAULT_PARTITION = "fixes_default"


def partition_name(day: date) -> str:
    return f"fixes_{day:%Y%m%d}"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def existing_days(conn: Connection) -> set[date]:
    """The days that have a partition, read from the catalogue."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'fixes'::regclass"
    ).fetchall()
    days = set()
    for (name,) in rows:
        match = _NAME.match(str(name))
        if match:
            days.add(date(int(match[1]), int(match[2]), int(match[3])))
    return days


def holds_fixes_lock(conn: Connection) -> bool:
    """Whether this connection's transaction holds any lock on the partitioned table."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()"
        " AND locktype = 'relation' AND relation = 'fixes'::regclass)"
    ).fetchone()
    return bool(row and row[0])


class FixPartitions:
    def __init__(self, db: Database, *, lock_wait_ms: int = 5000) -> None:
        self._db = db
        self._lock_wait_ms = lock_wait_ms
        self._lock = threading.Lock()
        self._known: set[date] | None = None
        self._stranded: set[date] = set()  # days whose rows wait in the default partition
        self._upkeep: Connection | None = None

    def close(self) -> None:
        with self._lock:
            if self._upkeep is not None:
                self._upkeep.close()
                self._upkeep = None
            self._known = None

    def forget(self, days: Iterable[date]) -> None:
        """These partitions were dropped."""
        with self._lock:
            if self._known is not None:
                self._known.difference_update(days)

    def ensure(self, days: Iterable[date], caller: Connection | None) -> None:
        """Make the partitions of `days`; `caller`: the connection of the caller's transaction."""
        wanted = set(days)
        with self._lock:
            known = self._known_days()
            missing = (wanted - known) | self._stranded
            if not missing:
                return
            wait_ms = self._lock_wait_ms
            if caller is not None and holds_fixes_lock(caller):
                wait_ms = 1  # the caller's own lock would be waited for: do not wait
            conn = self._connection()
            for day in sorted(missing):
                try:
                    self._create(conn, day, wait_ms)
                except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
                    self._stranded.add(day)  # its rows go to the default partition for now
                    continue
                known.add(day)
                self._stranded.discard(day)

    def _known_days(self) -> set[date]:
        if self._known is None:
            self._known = existing_days(self._connection())
        return self._known

    def _connection(self) -> Connection:
        if self._upkeep is None or self._upkeep.closed:
            self._upkeep = self._db.connect()
        return self._upkeep

    def _create(self, conn: Connection, day: date, wait_ms: int) -> None:
        name, (start, end) = partition_name(day), day_bounds(day)
        table = sql.Identifier(name)
        bounds = sql.SQL("FOR VALUES FROM ({}) TO ({})").format(
            sql.Literal(start.isoformat()), sql.Literal(end.isoformat())
        )
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{wait_ms}ms",))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK,))
            if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() not in (None, (None,)):
                return  # another process made it
            stranded = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM fixes_default"
                " WHERE fix_time >= %s AND fix_time < %s)",
                (start, end),
            ).fetchone()
            if not (stranded and stranded[0]):
                conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF fixes {}").format(table, bounds))
                return
            # The day's rows wait in the default partition: move them into a table of
            # their own, then attach it (which builds its indexes).
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (LIKE fixes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                ).format(table)
            )
            conn.execute(
                sql.SQL(
                    "WITH moved AS (DELETE FROM fixes_default WHERE fix_time >= %s"
                    " AND fix_time < %s RETURNING *) INSERT INTO {} SELECT * FROM moved"
                ).format(table),
                (start, end),
            )
            conn.execute(sql.SQL("ALTER TABLE fixes ATTACH PARTITION {} {}").format(table, bounds))
