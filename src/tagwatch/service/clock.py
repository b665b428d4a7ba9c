"""Where the service layer reads the time: one `Clock`, so tests can hold time still.

The engine never reads a clock (`now` is an argument); the service layer asks its `Clock`
once per step and hands that instant down, so one batch is judged at one moment.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to (tests, replays). Thread-safe."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._at = _aware(at)

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = _aware(at)

    def advance(self, by: timedelta | None = None, *, seconds: float = 0.0) -> datetime:
        """Move forward by `by` (or `seconds`); returns the new time."""
        step = by if by is not None else timedelta(seconds=seconds)
        with self._lock:
            self._at += step
            return self._at


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock's time must be time-zone aware")
    return at.astimezone(UTC)
