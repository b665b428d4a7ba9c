"""The PostgreSQL/PostGIS store (the scale-out backend): see store.py."""

from tagwatch.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
