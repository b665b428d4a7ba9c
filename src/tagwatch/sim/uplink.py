"""Store and forward: when a record reaches the server.

Live records arrive within a few seconds. In a coverage gap the tag buffers and uploads
when it is back: some tags send oldest first, some newest first, some the live fix first and
then the backlog; a lost acknowledgement makes a tag send part of an upload again, and now
and then a single record arrives twice.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CHUNK = 25  # records per upload packet


def merge_gaps(gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(gaps):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def deliver(
    t: FloatArray,
    gaps: list[tuple[float, float]],
    rng: np.random.Generator,
    *,
    duplicate_rate: float,
) -> tuple[IntArray, FloatArray]:
    """(record index, received time) per delivery; a record can be delivered twice.

    `t` must be sorted. Received times are epoch seconds, never before the record's time.
    """
    n = int(t.shape[0])
    latency: FloatArray = 0.3 + rng.lognormal(np.log(1.2), 0.7, n)
    hiccup: npt.NDArray[np.bool_] = rng.random(n) < 0.02
    latency[hiccup] += rng.uniform(5.0, 60.0, int(hiccup.sum()))
    received = t + latency
    extra_index: list[IntArray] = []
    extra_received: list[FloatArray] = []
    for start, end in merge_gaps(gaps):
        lo, hi = np.searchsorted(t, [start, end])
        if hi <= lo:
            continue
        backlog = np.arange(lo, hi)
        mode = rng.random()
        if mode < 0.5:
            upload = end + float(rng.uniform(3.0, 30.0))
        elif mode < 0.8:
            backlog = backlog[::-1]  # newest first
            upload = end + float(rng.uniform(3.0, 30.0))
        else:
            # The live record goes first (the server sees the present), then the backlog.
            upload = (float(received[hi]) if hi < n else end) + 0.5
        spacing = rng.uniform(0.05, 0.3, backlog.shape[0])
        spacing[::CHUNK] += rng.uniform(1.0, 3.0, spacing[::CHUNK].shape[0])
        received[backlog] = upload + np.cumsum(spacing)
        if rng.random() < 0.3:
            # The acknowledgement was lost: part of the upload comes again.
            size = max(1, int(backlog.shape[0] * rng.uniform(0.2, 0.5)))
            first = int(rng.integers(0, backlog.shape[0] - size + 1))
            again = backlog[first : first + size]
            resent = float(received[backlog].max()) + float(rng.uniform(30.0, 120.0))
            extra_index.append(again)
            extra_received.append(resent + np.cumsum(rng.uniform(0.05, 0.3, size)))
    twice = np.flatnonzero(rng.random(n) < duplicate_rate)
    extra_index.append(twice)
    extra_received.append(received[twice] + rng.uniform(20.0, 300.0, twice.shape[0]))
    index = np.concatenate([np.arange(n), *extra_index]).astype(np.int64)
    when = np.concatenate([received, *extra_received])
    return index, np.maximum(when, t[index])
