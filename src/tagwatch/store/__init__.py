"""Repositories behind one contract: SQLite (embedded default) now, PostgreSQL/PostGIS next.

    store = create_store("sqlite:///var/lib/tagwatch/tagwatch.db")
    store.open()
    with store.transaction() as tx:
        tx.fixes.add_fixes(fixes)

See `tagwatch.store.contract` for the API and its semantics.
"""

from __future__ import annotations

from tagwatch.store.contract import Store, UnitOfWork
from tagwatch.store.errors import ConflictError, MissingReferenceError, NotFoundError, StoreError
from tagwatch.store.hashing import SecretHasher
from tagwatch.store.sqlite import SqliteStore

__all__ = [
    "ConflictError",
    "MissingReferenceError",
    "NotFoundError",
    "SecretHasher",
    "SqliteStore",
    "Store",
    "StoreError",
    "UnitOfWork",
    "create_store",
]


def create_store(url: str, *, hasher: SecretHasher | None = None) -> Store:
    """A store for `url`, not yet opened.

    `sqlite:///relative/file.db` or `sqlite:////absolute/file.db` (SQLAlchemy's spelling);
    `postgresql://user@host:5432/dbname` (libpq's URI, any libpq parameters) for
    PostgreSQL with PostGIS.
    """
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"), hasher=hasher)
    if url.startswith(("postgresql://", "postgres://")):
        from tagwatch.store.postgres import PostgresStore  # noqa: PLC0415 - psycopg on demand

        return PostgresStore(url, hasher=hasher)
    scheme = url.split(":", 1)[0]
    raise ValueError(f"no store for {scheme!r} URLs (expected sqlite:///path or postgresql://...)")
