"""The fixes of the allowed-lateness window, kept so late data can be re-evaluated.

Stored as a few sorted column chunks (an append-friendly, size-tiered LSM-like layout): each
batch adds a chunk, and the newest MERGE_FANOUT chunks are merged into one while the oldest
of them is at most twice the size of the newest (chunks of about one size). Chunk sizes grow
geometrically, a few chunks of each size stay side by side, and every row is merged about
log4(n) times. A device's rows are found with a binary search per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.engine.batch import FixBatch

# Chunks merged at a time. Four rather than two halves the merging (sorting) work, for a
# few more chunks to search when late data needs a device's rows.
MERGE_FANOUT = 4


@dataclass(frozen=True, slots=True)
class History:
    chunks: tuple[FixBatch, ...] = ()  # each sorted by (device, fix time)

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def append(self, batch: FixBatch) -> History:
        """`batch` must be sorted and unique; returns a new history."""
        if len(batch) == 0:
            return self
        chunks = [*self.chunks, batch]
        while len(chunks) >= MERGE_FANOUT and len(chunks[-MERGE_FANOUT]) <= 2 * len(chunks[-1]):
            tail = chunks[-MERGE_FANOUT:]
            del chunks[-MERGE_FANOUT:]
            chunks.append(FixBatch.concat(tail).sorted_unique())
        return History(tuple(chunks))

    def rows_for(self, devices: npt.NDArray[np.int32]) -> FixBatch:
        """All kept rows of `devices` (sorted unique device indexes), sorted and unique."""
        parts: list[FixBatch] = []
        for chunk in self.chunks:
            lo = np.searchsorted(chunk.device, devices, side="left")
            hi = np.searchsorted(chunk.device, devices, side="right")
            lengths = hi - lo
            if not lengths.any():
                continue
            # Concatenated ranges [lo, hi) without a Python loop over devices.
            starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
            index = starts + np.arange(int(lengths.sum()))
            parts.append(chunk.take(index))
        return FixBatch.concat(parts).sorted_unique()

    def split_before(self, horizon_ms: int) -> tuple[FixBatch, History]:
        """(rows older than the horizon, sorted; the history without them)."""
        old: list[FixBatch] = []
        kept: list[FixBatch] = []
        for chunk in self.chunks:
            older = chunk.time_ms < horizon_ms
            if not older.any():
                kept.append(chunk)
                continue
            old.append(chunk.take(older))
            if not older.all():
                kept.append(chunk.take(~older))
        return FixBatch.concat(old).sorted_unique(), History(tuple(kept))
