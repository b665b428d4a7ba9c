"""The log: the single source of truth for what arrived (DESIGN.md, "The flow of one fix").

A gateway appends records and acknowledges the device only after `append` has returned:
by then the records are durable (committed and on disk). The monitor reads `pending`
records in order, commits their effects to the store, and then `mark_done`s them. A crash
anywhere in between leaves them pending, so they are read again; every effect is
idempotent, so nothing is lost and nothing doubles.

Semantics every implementation keeps (an embedded SQLite inbox today, NATS JetStream next):

- `append` is durable before it returns, and idempotent by `key` (a device retrying after
  a lost acknowledgement sends the same record again): a key already in the log is
  ignored and not counted. Keys are remembered for at least a dedupe window of received
  time (10 minutes by default: the NATS stream's duplicate window, the SQLite inbox's
  in-memory keys); a duplicate arriving later is appended again, which is harmless
  because every downstream write is idempotent.
- `pending(limit)` returns records not yet done, oldest first (`seq` increases in the
  order appends committed), so one device's records are consumed in arrival order.
- `mark_done(seqs)` is idempotent; marking an unknown or already-done seq does nothing.
- `joins_store_transaction` is True when `mark_done` called inside `store.transaction()`
  commits atomically with the store's writes (the embedded inbox in the store's file);
  otherwise the monitor marks records done only after the store has committed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

if TYPE_CHECKING:
    from tagwatch.domain.positions import DeviceEvent, Fix

RecordKind: TypeAlias = Literal["fix", "event"]
FIX: RecordKind = "fix"
EVENT: RecordKind = "event"
JsonObject: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record to append: what a gateway decoded, with the key that makes retries harmless.

    `key` is `fix:<device>:<fix time in ms>` for a fix, `event:<device>:<ms>:<kind>` for a
    device event (tagwatch.log.codec), or a protocol's own message id where it has one.
    `payload` is the JSON form of the Fix or DeviceEvent (tagwatch.log.codec).
    """

    key: str
    kind: RecordKind
    device_id: str
    payload: JsonObject
    received_at: datetime
    # The Fix or DeviceEvent that `decode_record` would make of `payload`, equal field for
    # field, when the encoder had it at hand; in-process only (never stored or sent), so a
    # monitor handed the record skips decoding it (tagwatch.log.handoff).
    decoded: Fix | DeviceEvent | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a log record needs an idempotency key")
        if self.kind not in (FIX, EVENT):
            raise ValueError(f"unknown record kind {self.kind!r}")
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be time-zone aware")


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """A record the log holds; `seq` orders it among all records of its partition."""

    seq: int
    key: str
    kind: RecordKind
    device_id: str
    payload: JsonObject
    received_at: datetime
    decoded: Fix | DeviceEvent | None = field(default=None, compare=False, repr=False)


def partition_of(device_id: str, partitions: int) -> int:
    """The partition of a device's records: stable everywhere (CRC-32, not `hash()`)."""
    return zlib.crc32(device_id.encode("utf-8")) % partitions


class LogError(Exception):
    """The log cannot do what was asked (not open, unreachable, or misused)."""


def parse_partitions(text: str) -> tuple[int, ...]:
    """`0-3,6` -> (0, 1, 2, 3, 6); a clear ValueError for anything else."""
    chosen: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError(f"partitions must look like 0-3,6; got {text!r}") from None
        if first < 0 or last < first:
            raise ValueError(f"partition range {part!r} is empty or negative")
        chosen.update(range(first, last + 1))
    if not chosen:
        raise ValueError("no partitions given")
    return tuple(sorted(chosen))


@dataclass(frozen=True, slots=True)
class DeviceScope:
    """Whose records this process's monitor reads: every device, or some partitions'.

    `version` changes whenever the partitions owned change, so the monitor knows to rebuild
    its engine state for the devices it now judges.
    """

    version: int
    partitions: frozenset[int] | None  # None: every device (an unpartitioned log)
    count: int = 1  # partitions in all

    def owns(self, device_id: str) -> bool:
        return self.partitions is None or partition_of(device_id, self.count) in self.partitions


ALL_DEVICES = DeviceScope(version=0, partitions=None)


class Log(Protocol):
    @property
    def joins_store_transaction(self) -> bool:
        """Whether `mark_done` inside `store.transaction()` commits with the store."""
        ...

    def open(self) -> None:
        """Connect and create what the log needs (idempotent)."""
        ...

    def close(self) -> None: ...

    def append(self, records: Sequence[NewRecord]) -> int:
        """Durably add the records whose keys are new; returns how many were new."""
        ...

    def pending(self, limit: int) -> list[InboxRecord]:
        """Up to `limit` records not yet done, in `seq` order."""
        ...

    def mark_done(self, seqs: Sequence[int]) -> None:
        """The records' effects are committed; they will not be returned by `pending`."""
        ...

    def count_pending(self) -> int: ...

    def prune(self, before: datetime) -> int:
        """Forget done records received before `before` (their keys no longer dedupe)."""
        ...

    def device_scope(self) -> DeviceScope:
        """The devices whose records `pending` returns (ALL_DEVICES unless partitioned)."""
        ...
