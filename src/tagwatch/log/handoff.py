"""Records this process appended to the SQLite inbox, kept for the monitor in the same process.

The embedded default runs ingest and the monitor in one process: without this, every
record is encoded to JSON, written, then read back and parsed by the monitor moments
later (about a third of the server's work per fix, BENCHMARKS.md). With it, the inbox
remembers each committed record by its seq and `pending` takes it from memory, with the
Fix it was made from where the encoder could vouch that its payload reads back to exactly
that Fix (`NewRecord.decoded`, tagwatch.log.codec.decodes_to_itself), so the monitor skips
decoding it too; the inbox
table stays the source of truth for *which* records are pending and in what order (it is
still read, seqs only), so durability, order and replay after a crash are unchanged.

Why it cannot be wrong, only missing: an entry is added only after the transaction that
gave it its seq has committed, and AUTOINCREMENT never reuses a committed seq, so the
entry for a seq is exactly what the row at that seq holds. Anything not here (appended
by another process, e.g. `tagwatch import`, appended before a restart, dropped because
the monitor fell behind by more than `limit` records, or forgotten by a mark whose
transaction then rolled back) is read from the table as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from tagwatch.log.contract import InboxRecord

KEPT_RECORDS = 50_000  # ten monitor batches; beyond that the monitor reads the table


class Handoff:
    """Thread-safe and bounded: seq -> the committed record, until it is marked done."""

    def __init__(self, *, limit: int = KEPT_RECORDS) -> None:
        if limit < 1:
            raise ValueError("keep at least one record")
        self._limit = limit
        self._kept: dict[int, InboxRecord] = {}
        self._lock = threading.Lock()
        self.handed_over = 0  # records `pending` took from here (for tests and metrics)
        self.read_back = 0  # records `pending` had to read from the table

    def keep(self, records: Iterable[InboxRecord]) -> None:
        """Committed records; those beyond the limit are left to be read back."""
        with self._lock:
            for record in records:
                if len(self._kept) >= self._limit:
                    return
                self._kept[record.seq] = record

    def take(self, seqs: Sequence[int]) -> dict[int, InboxRecord]:
        """The kept records among `seqs`; they stay kept until `forget` (a step may fail)."""
        with self._lock:
            kept = self._kept
            found = {seq: kept[seq] for seq in seqs if seq in kept}
            self.handed_over += len(found)
            self.read_back += len(seqs) - len(found)
        return found

    def forget(self, seqs: Iterable[int]) -> None:
        """Done (or about to be): a rolled-back mark only means a read from the table."""
        with self._lock:
            kept = self._kept
            for seq in seqs:
                kept.pop(seq, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
