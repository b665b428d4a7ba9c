"""Column conversions: aware instants to integers since the epoch, and back (UTC).

Integer arithmetic on timedeltas is exact: no float rounding moves a fix by a millisecond.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from tagwatch.store.errors import ConflictError, MissingReferenceError, StoreError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
MS = timedelta(milliseconds=1)


def to_us(moment: datetime) -> int:
    try:
        return (moment - EPOCH) // _US
    except TypeError:  # naive minus aware
        raise ValueError(f"instants must be time-zone aware, not {moment!r}") from None


def to_ms(moment: datetime) -> int:
    try:
        return (moment - EPOCH) // MS
    except TypeError:  # naive minus aware
        raise ValueError(f"instants must be time-zone aware, not {moment!r}") from None


def opt_us(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def opt_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def from_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def opt_from_us(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def opt_from_ms(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


def translate(error: sqlite3.IntegrityError) -> StoreError:
    """The contract's error for a constraint SQLite refused."""
    message = str(error)
    if "FOREIGN KEY" in message:
        return MissingReferenceError(message)
    if "UNIQUE" in message or "PRIMARY KEY" in message:
        return ConflictError(message)
    return StoreError(message)


def placeholders(count: int) -> str:
    return ",".join("?" * count)
