"""Schema migrations: numbered `.sql` files shipped in `tagwatch/store/sqlite/migrations/`.

`0001_initial.sql`, `0002_....sql`, ... are applied in order, each in its own transaction,
and recorded in `schema_migrations` with a checksum. Opening a database again applies only
what is missing; a migration edited after it was applied, or a database newer than this
code, stops the store from opening rather than guessing.

Fix tables are created per month by code (tagwatch.store.sqlite.fixes); a migration that
changes their layout must also alter the existing `fixes_YYYY_MM` tables.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from tagwatch.store.errors import StoreError
from tagwatch.store.sqlite.columns import to_us

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    folder = resources.files("tagwatch.store.sqlite").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations must be numbered 1, 2, 3...: {[m.version for m in found]}")
    return found


def statements(sql: str) -> list[str]:
    """Split a script into statements (sqlite3.complete_statement knows about triggers)."""
    found, pending = [], ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    leftover = [ln for ln in pending.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise StoreError(f"unterminated statement in migration: {pending.strip()[:80]!r}")
    return found


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Apply what is missing; return the schema version. `conn` must be in autocommit."""
    migrations = load_migrations() if migrations is None else migrations
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at_us INTEGER NOT NULL)"
    )
    newest = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
    if newest > len(migrations):
        raise StoreError(
            f"the database has schema version {newest}, newer than this tagwatch "
            f"({len(migrations)}): upgrade tagwatch"
        )
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")  # another process may be migrating too: take turns
        try:
            row = conn.execute(
                "SELECT checksum FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if row is None:
                for statement in statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                    (
                        migration.version,
                        migration.name,
                        migration.checksum,
                        to_us(datetime.now(UTC)),
                    ),
                )
            elif row[0] != migration.checksum:
                raise StoreError(
                    f"migration {migration.version:04d}_{migration.name} changed after it "
                    "was applied; add a new migration instead"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def schema_version(conn: sqlite3.Connection) -> int:
    value = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    return int(value or 0)
