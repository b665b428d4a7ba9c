"""Ground truth from the true track, second by second: when the person really was on the
wrong side of a boundary while the requirement applied, and when they came close."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import RuleKind
from tagwatch.sim.model import TrueTrack
from tagwatch.sim.requirements import Requirement
from tagwatch.sim.shapes import Region

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
STEP_S = 1.0
NEAR_MISS_M = 60.0  # an exclusion zone passed this close (outside) is a near miss
NEAR_MISS_S = 600.0  # a curfew met or left with this little time to spare is a near miss


@dataclass(frozen=True, slots=True)
class Span:
    requirement_id: str
    rule: RuleKind
    start: float  # epoch seconds
    end: float


@dataclass(frozen=True, slots=True)
class Close:
    requirement_id: str
    rule: RuleKind
    time: float
    closest_m: float


COARSE = 10  # seconds: masks are found on this grid, then refined to the second


class Grid:
    """The simulation's seconds, and the true track at any of them.

    Masks over the seconds are computed on a 10 s grid and refined to the second wherever
    two neighbouring coarse points disagree; a visit shorter than 10 s that starts and ends
    between two coarse points is the only thing this can miss.
    """

    __slots__ = ("_coarse_x", "_coarse_y", "seconds", "t0", "track")

    def __init__(self, t0: float, seconds: int, track: TrueTrack) -> None:
        self.t0 = t0
        self.seconds = seconds
        self.track = track
        self._coarse_x, self._coarse_y = self.xy(np.arange(0, seconds, COARSE))

    def time(self, index: int) -> float:
        return self.t0 + index * STEP_S

    def xy(self, indices: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        return self.track.xy_at(self.t0 + np.asarray(indices, np.float64) * STEP_S)

    def where(self, predicate: Callable[[FloatArray, FloatArray], BoolArray]) -> BoolArray:
        """Per second, `predicate(x, y)` of the true position."""
        coarse = predicate(self._coarse_x, self._coarse_y)
        mask = np.repeat(coarse, COARSE)[: self.seconds]
        changes = np.flatnonzero(coarse[1:] != coarse[:-1])
        if changes.shape[0]:
            fine = (changes[:, None] * COARSE + np.arange(1, COARSE)).ravel()
            fine = fine[fine < self.seconds]
            mask[fine] = predicate(*self.xy(fine))
        return mask

    def mask(self, intervals: npt.NDArray[np.float64]) -> BoolArray:
        """Seconds that lie in the given intervals."""
        n = self.seconds
        active = np.zeros(n, np.bool_)
        starts = np.ceil((intervals[:, 0] - self.t0) / STEP_S).astype(np.int64)
        ends = np.ceil((intervals[:, 1] - self.t0) / STEP_S).astype(np.int64)
        for lo, hi in zip(np.clip(starts, 0, n), np.clip(ends, 0, n), strict=True):
            active[lo:hi] = True
        return active


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs."""
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    if mask.shape[0] and mask[0]:
        edges = np.concatenate([[0], edges])
    if mask.shape[0] and mask[-1]:
        edges = np.concatenate([edges, [mask.shape[0]]])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def violations_and_near_misses(
    grid: Grid, requirements: list[Requirement]
) -> tuple[list[Span], list[Close]]:
    spans: list[Span] = []
    closes: list[Close] = []
    for req in requirements:
        region = req.region
        active = grid.mask(req.intervals)
        inside = grid.where(region.contains)
        bad = active & (inside if req.rule is RuleKind.EXCLUSION else ~inside)
        found = runs(bad)
        spans.extend(Span(req.id, req.rule, grid.time(a), grid.time(b)) for a, b in found)
        if req.rule is RuleKind.EXCLUSION:

            def close_outside(x: FloatArray, y: FloatArray, r: Region = region) -> BoolArray:
                found: BoolArray = np.isfinite(r.signed_distance(x, y, within_m=NEAR_MISS_M))
                return found

            near = active & grid.where(close_outside) & ~inside
            for a, b in runs(near):
                if any(a - 600 < hi and lo < b + 600 for lo, hi in found):
                    continue  # the approach of an actual entry
                distance = region.signed_distance(*grid.xy(np.arange(a, b)), within_m=NEAR_MISS_M)
                k = int(np.argmin(distance))
                closes.append(Close(req.id, req.rule, grid.time(a + k), float(distance[k])))
        elif req.rule is RuleKind.CURFEW and region.circle is not None:
            closes.extend(_curfew_near_misses(grid, req, active, inside))
    return spans, closes


def _curfew_near_misses(
    grid: Grid, req: Requirement, active: BoolArray, inside: BoolArray
) -> list[Close]:
    """Home with minutes to spare when the curfew began, or out minutes after it ended."""
    assert req.region.circle is not None  # noqa: S101 - curfew addresses are circles here
    cx, cy, radius = req.region.circle
    window = int(NEAR_MISS_S / STEP_S)
    n = grid.seconds

    def margin(index: int) -> float:
        x, y = grid.xy([index])
        return float(radius - np.hypot(x[0] - cx, y[0] - cy))

    closes = []
    for a, b in runs(active):
        before = inside[max(a - window, 0) : a]
        if a > 0 and inside[a] and not before.all():
            crossed = a - before.shape[0] + int(np.flatnonzero(~before)[-1]) + 1
            closes.append(Close(req.id, req.rule, grid.time(crossed), margin(a)))
        after = inside[b : b + window]
        if b < n and inside[b - 1] and not after.all():
            left = b + int(np.flatnonzero(~after)[0])
            closes.append(Close(req.id, req.rule, grid.time(left), margin(b - 1)))
    return closes
