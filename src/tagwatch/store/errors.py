"""What a store raises, whatever database is behind it.

Implementations translate their driver's errors into these, so callers (the service layer,
the API) handle one set of exceptions for SQLite and PostgreSQL alike.
"""

from __future__ import annotations


class StoreError(Exception):
    """Anything the store cannot do (also: a schema newer than this code, a changed migration)."""


class NotFoundError(StoreError):
    """The record to change does not exist."""


class ConflictError(StoreError):
    """The write contradicts what is stored.

    A duplicate key where duplicates are not idempotent (a second user with the same name),
    an assignment that overlaps another of the same device, or an alert whose state is no
    longer the one the caller expected (somebody else acted on it first).
    """


class MissingReferenceError(StoreError):
    """The record refers to one that does not exist (a zone of an unknown subject)."""
