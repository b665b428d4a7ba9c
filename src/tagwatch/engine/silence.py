"""No-GPS: a device that keeps talking without a valid position.

Judged from the device's own records (valid and invalid fixes) in fix-time order, so the
same records in any arrival order give the same episodes: between two consecutive valid
fixes, or after the last one, there is a no-GPS episode when the device sent a record at
least `threshold` after the valid fix. It starts at the last valid fix (the operator sees
"no position since 14:02"), is confirmed by that record, and ends at the next valid fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class SilenceSpan:
    start: int
    confirmed_at: int
    end: int | None


def no_gps_spans(
    time_ms: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_], threshold_ms: int
) -> list[SilenceSpan]:
    """Spans from one device's records sorted by time (an invalid row proves it talked)."""
    valid_times = time_ms[valid]
    if valid_times.shape[0] == 0:
        return []
    first_late = np.searchsorted(time_ms, valid_times + threshold_ms, side="left")
    spans: list[SilenceSpan] = []
    for i, index in enumerate(first_late.tolist()):
        if index >= time_ms.shape[0]:
            continue
        talked_at = int(time_ms[index])
        next_valid = int(valid_times[i + 1]) if i + 1 < valid_times.shape[0] else None
        if next_valid is None or talked_at < next_valid:
            spans.append(SilenceSpan(int(valid_times[i]), talked_at, next_valid))
    return spans
