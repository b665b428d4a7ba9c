"""The idempotency keys an appender has written within its dedupe window, in memory.

Why not a UNIQUE index on the inbox's key column: every key in the table then sits in one
large B-tree ordered by key, so each packet's keys land on leaves far apart, and every
group commit rewrites hundreds of 4 KB pages of it (measured with the gateway bench at
5,000 connections: ~25 % of the gateway's CPU, five times the page reads and writes of
the table alone; BENCHMARKS.md). A retry that matters arrives within minutes of the
original, so what dedupe needs is the recent keys, and a dict answers "seen?" in a tenth of
a microsecond. NATS JetStream, the scale-out log, does the same: its duplicate window is
an in-memory map of message ids, rebuilt from the stream when a server restarts.

A key is remembered while its `received_us` is within `window_us` of the newest
`received_us` added (the data's own time, not the wall clock, so a replayed or simulated
clock behaves like a real one), and forgotten at most one slice later: keys are evicted a
slice of the window at a time, so eviction costs nothing per key on the append path.
"""

from __future__ import annotations

from collections.abc import Iterable


class RecentKeys:
    """Keys added within a window of received time; `key in recent` says "seen"."""

    def __init__(self, window_us: int, *, slices: int = 10) -> None:
        if window_us < 1 or slices < 1:
            raise ValueError("the dedupe window and its number of slices must be positive")
        self.window_us = window_us
        self._slice_us = max(1, window_us // slices)
        self._slice_of: dict[str, int] = {}  # key -> the newest slice it was added in
        self._slices: dict[int, list[str]] = {}  # slice -> keys added in it (some moved on)
        self._newest_us: int | None = None
        self._kept_from: int | None = None  # slices before this one have been evicted

    def __contains__(self, key: object) -> bool:
        return key in self._slice_of

    def __len__(self) -> int:
        return len(self._slice_of)

    def add(self, key: str, received_us: int) -> None:
        part = received_us // self._slice_us
        if self._slice_of.get(key, part - 1) < part:  # a newer sighting keeps it longer
            self._slice_of[key] = part
            keys = self._slices.get(part)
            if keys is None:
                keys = self._slices[part] = []
            keys.append(key)
        if self._newest_us is None or received_us > self._newest_us:
            self._newest_us = received_us
            # Slice p ends at (p + 1) * slice_us: it is all older than the horizon when
            # p < horizon // slice_us. Most adds share the newest instant and stop above.
            keep_from = (received_us - self.window_us) // self._slice_us
            if self._kept_from is None or keep_from > self._kept_from:
                self._kept_from = keep_from
                self._evict(keep_from)

    def forget(self, key: str, received_us: int) -> None:
        """Forget `key` unless it was added again after `received_us`'s slice."""
        part = self._slice_of.get(key)
        if part is not None and part <= received_us // self._slice_us:
            del self._slice_of[key]

    def forget_all(self, keys: Iterable[str]) -> None:
        """Forget keys outright (the transaction that was to write them rolled back)."""
        for key in keys:
            self._slice_of.pop(key, None)

    def _evict(self, keep_from: int) -> None:
        """Drop every slice before `keep_from`: all its keys are older than the window."""
        stale = [part for part in self._slices if part < keep_from]
        slice_of = self._slice_of
        for part in stale:
            for key in self._slices.pop(part):
                if slice_of.get(key) == part:  # not seen again in a newer slice
                    del slice_of[key]
