"""The SQLite implementation of the store contract (the embedded default)."""

from tagwatch.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
