"""Schema migrations: numbered `.sql` files shipped in `tagwatch/store/postgres/migrations/`.

As in the SQLite store: `0001_initial.sql`, `0002_....sql`, ... are applied in order, each
in its own transaction, and recorded in `schema_migrations` with a checksum; a migration
edited after it was applied, or a database newer than this code, stops the store from
opening. A session advisory lock makes processes that open the database at the same time
take turns. A migration file is one script (PostgreSQL runs several statements in one
simple-protocol call), so `DO` blocks and functions need no splitting.

Daily fix partitions are created by code (tagwatch.store.postgres.partitions) and inherit
the partitioned table's columns and indexes, so a migration that alters `fixes` alters
them all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from tagwatch.store.errors import StoreError

if TYPE_CHECKING:
    import psycopg

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x7467_6D69  # "tgmi": the advisory lock migrations take turns on


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    folder = resources.files("tagwatch.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations must be numbered 1, 2, 3...: {[m.version for m in found]}")
    return found


def migrate(conn: psycopg.Connection[Any], migrations: list[Migration] | None = None) -> int:
    """Apply what is missing; return the schema version. `conn` must be in autocommit."""
    migrations = load_migrations() if migrations is None else migrations
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        newest = max(applied, default=0)
        if newest > len(migrations):
            raise StoreError(
                f"the database has schema version {newest}, newer than this tagwatch "
                f"({len(migrations)}): upgrade tagwatch"
            )
        for migration in migrations:
            stored = applied.get(migration.version)
            if stored is None:
                with conn.transaction():
                    conn.execute(migration.sql.encode())  # bytes: no parameter parsing of '%'
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            elif stored != migration.checksum:
                raise StoreError(
                    f"migration {migration.version:04d}_{migration.name} changed after it "
                    "was applied; add a new migration instead"
                )
        return schema_version(conn)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def schema_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0) if row else 0
