"""A batch of fixes as columns: what the engine computes on.

Rows are identified by (device index, fix time in ms); the same pair twice is the same fix
(a tag that uploads its buffer twice), so batches are de-duplicated on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.domain.positions import Fix
from tagwatch.engine.timebase import to_ms

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# A row key packs (device, fix time) into 62 bits, leaving room for one more bit in sort
# keys: 42 bits of ms since 1970 last until 2109, 20 bits allow a million devices a monitor.
TIME_BITS = 42
MAX_DEVICES = 2**20


def row_keys(device: Int32Array, time_ms: Int64Array) -> Int64Array:
    """One int64 per (device, fix time), ordered as (device, time)."""
    return (device.astype(np.int64) << TIME_BITS) | time_ms


@dataclass(frozen=True, slots=True)
class FixBatch:
    device: Int32Array  # index into CompiledRules.device_ids
    time_ms: Int64Array  # fix_time
    lon: FloatArray
    lat: FloatArray
    accuracy_m: FloatArray
    valid: BoolArray
    received_ms: Int64Array  # -1 where unknown

    def __len__(self) -> int:
        return int(self.device.shape[0])

    @classmethod
    def empty(cls) -> FixBatch:
        return _EMPTY

    @classmethod
    def from_arrays(
        cls,
        device: npt.ArrayLike,
        time_ms: npt.ArrayLike,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        accuracy_m: npt.ArrayLike,
        valid: npt.ArrayLike | None = None,
        received_ms: npt.ArrayLike | None = None,
    ) -> FixBatch:
        device_a = np.asarray(device, dtype=np.int32)
        n = device_a.shape[0]
        valid_a = np.ones(n, np.bool_) if valid is None else np.asarray(valid, np.bool_)
        lon_a = np.asarray(lon, np.float64)
        lat_a = np.asarray(lat, np.float64)
        accuracy_a = np.asarray(accuracy_m, np.float64)
        # A fix without a usable position still proves the device talks; it is kept as a
        # row, but never judged against zones.
        valid_a = valid_a & np.isfinite(lon_a) & np.isfinite(lat_a) & np.isfinite(accuracy_a)
        return cls(
            device=device_a,
            time_ms=np.asarray(time_ms, np.int64),
            lon=lon_a,
            lat=lat_a,
            accuracy_m=np.where(np.isfinite(accuracy_a), np.maximum(accuracy_a, 0.0), 0.0),
            valid=valid_a,
            received_ms=(
                np.full(n, -1, np.int64)
                if received_ms is None
                else np.asarray(received_ms, np.int64)
            ),
        )

    @classmethod
    def from_fixes(cls, fixes: Sequence[Fix], device_index: Mapping[str, int]) -> FixBatch:
        """Columns of the fixes whose device the rules know; others cannot be judged."""
        known = [fix for fix in fixes if fix.device_id in device_index]
        return cls.from_arrays(
            [device_index[fix.device_id] for fix in known],
            [to_ms(fix.fix_time) for fix in known],
            [fix.lon for fix in known],
            [fix.lat for fix in known],
            [fix.accuracy_m for fix in known],
            [fix.valid for fix in known],
            [-1 if fix.received_at is None else to_ms(fix.received_at) for fix in known],
        )

    def take(self, index: npt.NDArray[np.intp] | BoolArray) -> FixBatch:
        if index.dtype == np.bool_ and index.all():
            return self  # columns are never changed in place, so sharing them is safe
        return FixBatch(
            self.device[index],
            self.time_ms[index],
            self.lon[index],
            self.lat[index],
            self.accuracy_m[index],
            self.valid[index],
            self.received_ms[index],
        )

    def sorted_unique(self) -> FixBatch:
        """Sorted by (device, fix time) with duplicates dropped: a valid record is kept
        over an invalid one of the same time, else the first."""
        if len(self) == 0:
            return self
        keys = row_keys(self.device, self.time_ms)
        if bool((keys[1:] > keys[:-1]).all()):
            return self  # already sorted, no duplicates (a monitor's batch often is)
        # One int64 sort key with validity as its lowest bit; a stable sort (timsort) is
        # near-linear on the concatenated sorted runs that history merges produce.
        order = np.argsort(keys * 2 + (~self.valid), kind="stable")
        sorted_keys = keys[order]
        keep = np.ones(order.shape[0], np.bool_)
        keep[1:] = sorted_keys[1:] != sorted_keys[:-1]
        return self.take(order[keep])

    @staticmethod
    def concat(batches: Sequence[FixBatch]) -> FixBatch:
        batches = [batch for batch in batches if len(batch)]
        if not batches:
            return FixBatch.empty()
        if len(batches) == 1:
            return batches[0]
        return FixBatch(
            np.concatenate([b.device for b in batches]),
            np.concatenate([b.time_ms for b in batches]),
            np.concatenate([b.lon for b in batches]),
            np.concatenate([b.lat for b in batches]),
            np.concatenate([b.accuracy_m for b in batches]),
            np.concatenate([b.valid for b in batches]),
            np.concatenate([b.received_ms for b in batches]),
        )


_EMPTY = FixBatch.from_arrays(
    np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0)
)
