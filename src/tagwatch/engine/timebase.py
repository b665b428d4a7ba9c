"""Engine time: integer milliseconds since the Unix epoch, UTC.

Integers make duplicates exact (a fix is identified by device and fix time) and keep numpy
arrays compact; datetimes appear only at the engine's edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("engine times must be time-zone aware")
    return (moment - EPOCH) // _ONE_MS


@lru_cache(maxsize=1 << 16)
def from_ms(ms: int) -> datetime:
    # Positional (days, seconds, microseconds, milliseconds): keywords cost twice as much,
    # and the engine turns every episode time into a datetime. Cached: an open episode is
    # re-published every batch with the same evidence times (datetimes are immutable).
    return EPOCH + timedelta(0, 0, 0, int(ms))
