"""When schedules are active, answered in bulk for engine times (int ms, UTC).

Semantics (see `tagwatch.domain.schedules`): a schedule is active at instant t when

    ((always or t lies in a window occurrence opening on a local date within first_day..last_day)
     minus LIFTED exceptions) plus ADDED exceptions

and touching or overlapping occurrences form one interval. Intervals are half-open [start, end).

Local wall-clock boundaries map to UTC by one rule: a local time L becomes *the first instant at
which the wall clock reads L or later*. For an ambiguous time (Europe/London, 25 Oct 2026,
01:00-02:00 happens twice) that is the first occurrence, i.e. zoneinfo's fold=0. For a time in the
spring-forward gap (29 Mar 2026, 01:00-02:00 never happens) it is the instant the clocks jump
(01:00 UTC = 02:00 BST); zoneinfo's raw fold=0 would instead shift the time by the gap (01:30 ->
02:30 BST), stretching a curfew that was meant to be over when the clock passed its end. The rule
is monotone, so windows keep their order and adjacency, a window lying wholly in the gap is empty,
and a 19:00-07:00 curfew lasts 11 h on the night clocks go forward and 13 h when they go back.

Schedules that are active at every instant get the sentinel interval
(`ALWAYS_START_MS`, `ALWAYS_END_MS`); the same sentinels stand for "no bound" elsewhere.

Weekly schedules are turned into merged UTC intervals lazily, over whole 8-week chunks covering the
times asked about, and kept; identical schedules share one timeline. Queries are a vectorised
binary search over all timelines at once, so the Python loops run over bisection steps and over
schedules whose span must grow, never over times. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from tagwatch.domain.schedules import ExceptionMode, Schedule
from tagwatch.engine.timebase import from_ms, to_ms

ALWAYS_START_MS = -(2**62)  # start of the interval of an always-active schedule (no lower bound)
ALWAYS_END_MS = 2**62  # end of the interval of an always-active schedule (no upper bound)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
CHUNK_MS = 8 * WEEK_MS
# Local days computed beyond a span: one merged interval made of windows is shorter than a week
# (else the timetable covers the whole week: handled without spans), two may join across a DST
# gap, and local and UTC dates differ by up to a day.
MARGIN_DAYS = 21
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_EVERYWHERE = (np.iinfo(np.int64).min, np.iinfo(np.int64).max)

Ints = npt.NDArray[np.int64]
Intervals = tuple[Ints, Ints]


def _ints(values: object) -> Ints:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _ms_of_day(moment: time) -> int:
    return (
        (moment.hour * 60 + moment.minute) * 60 + moment.second
    ) * 1000 + moment.microsecond // 1000


def _merge(starts: Ints, ends: Ints) -> Intervals:
    """Sorted, disjoint, non-touching intervals from any intervals (empty ones dropped)."""
    keep = ends > starts
    order = np.argsort(starts[keep], kind="stable")
    starts, ends = starts[keep][order], ends[keep][order]
    if starts.shape[0] == 0:
        return starts, ends
    reach = np.maximum.accumulate(ends)
    first = np.flatnonzero(np.concatenate(([True], starts[1:] > reach[:-1])))
    last = np.concatenate((first[1:] - 1, [starts.shape[0] - 1]))
    return starts[first], reach[last]


def _contains(intervals: Intervals, points: Ints) -> npt.NDArray[np.bool_]:
    starts, ends = intervals
    at = np.searchsorted(starts, points, side="right") - 1
    if starts.shape[0] == 0:
        return np.zeros(points.shape, dtype=np.bool_)
    return (at >= 0) & (points < ends[np.maximum(at, 0)])


def _with_exceptions(base: Intervals, lifted: Intervals, added: Intervals) -> Intervals:
    """(base minus lifted) plus added, by sweeping the elementary pieces between all boundaries."""
    if lifted[0].shape[0] == 0 and added[0].shape[0] == 0:
        return base
    points = np.unique(np.concatenate((*base, *lifted, *added)))
    if points.shape[0] < 2:
        return _ints([]), _ints([])
    piece = points[:-1]  # membership is constant on [points[i], points[i + 1])
    on = (_contains(base, piece) & ~_contains(lifted, piece)) | _contains(added, piece)
    edges = np.diff(np.concatenate(([0], on.astype(np.int8), [0])))
    return points[np.flatnonzero(edges == 1)], points[np.flatnonzero(edges == -1)]


class _Zone:
    """One time zone's UTC offsets, sampled per UTC year, to turn local wall-clock ms into UTC."""

    def __init__(self, name: str) -> None:
        self._tz = ZoneInfo(name)
        self._years: set[int] = set()
        self._changes: dict[int, int] = {}  # utc ms -> offset ms from then on
        self._since = self._offset_ms = self._reach = _ints([])

    def _offset_at(self, utc_ms: int) -> int:
        offset = from_ms(utc_ms).astimezone(self._tz).utcoffset()
        return 0 if offset is None else offset // timedelta(milliseconds=1)

    def _sample_year(self, year: int) -> None:
        # Hourly samples find every change (tzdata has none less than hours apart); bisection then
        # finds the exact millisecond.
        start = to_ms(datetime(year, 1, 1, tzinfo=UTC))
        end = to_ms(datetime(year + 1, 1, 1, tzinfo=UTC))
        before = self._offset_at(start)
        self._changes[start] = before  # pins the offset where the previous year is not sampled
        for sample in range(start + HOUR_MS, end + 1, HOUR_MS):
            after = self._offset_at(sample)
            if after != before:
                low, high = sample - HOUR_MS, sample
                while high - low > 1:
                    middle = (low + high) // 2
                    low, high = (
                        (middle, high) if self._offset_at(middle) == before else (low, middle)
                    )
                self._changes[high] = after
            before = after
        self._years.add(year)

    def _cover(self, local_min: int, local_max: int) -> None:
        first = from_ms(local_min - 2 * DAY_MS).year
        wanted = set(range(first, from_ms(local_max + 2 * DAY_MS).year + 1)) - self._years
        if not wanted:
            return
        for year in sorted(wanted):
            self._sample_year(year)
        since, offset = (
            _ints(column) for column in zip(*sorted(self._changes.items()), strict=True)
        )
        changed = np.concatenate(([True], offset[1:] != offset[:-1]))  # drop no-op pins
        since, offset = since[changed], offset[changed]
        since[0] = ALWAYS_START_MS
        # Segment i shows wall-clock readings below reach[i]; running max guards odd tzdata.
        reach = np.maximum.accumulate(np.concatenate((since[1:] + offset[:-1], [ALWAYS_END_MS])))
        self._since, self._offset_ms, self._reach = since, offset, reach

    def to_utc(self, local_ms: Ints) -> Ints:
        """First instant whose wall-clock reading is >= each local time (see module docstring)."""
        if local_ms.shape[0] == 0:
            return local_ms
        self._cover(int(local_ms.min()), int(local_ms.max()))
        segment = np.searchsorted(self._reach, local_ms, side="right")
        return _ints(np.maximum(self._since[segment], local_ms - self._offset_ms[segment]))


@dataclass(frozen=True)
class _Plan:
    """What one distinct schedule needs to build its timeline over any span."""

    zone: _Zone
    opens: Ints  # window openings, ms after local Monday 00:00, ascending
    lengths: Ints  # local wall-clock lengths, ms
    first_day: int | None  # local day numbers (days since 1970-01-01)
    last_day: int | None
    lifted: Intervals
    added: Intervals

    def occurrences(self, day_lo: int, day_hi: int) -> Intervals:
        """Merged UTC intervals of the windows opening on local days day_lo..day_hi (in range)."""
        day_lo = max(day_lo, self.first_day) if self.first_day is not None else day_lo
        day_hi = min(day_hi, self.last_day) if self.last_day is not None else day_hi
        if day_hi < day_lo or self.opens.shape[0] == 0:
            return _ints([]), _ints([])
        monday = day_lo - (day_lo + 3) % 7  # 1970-01-01 was a Thursday
        weeks = np.arange(monday, day_hi + 1, 7, dtype=np.int64)[:, None] * DAY_MS
        opens, lengths = (
            (weeks + self.opens).ravel(),
            np.broadcast_to(self.lengths, weeks.shape[:1] + self.lengths.shape).ravel(),
        )
        keep = (opens >= day_lo * DAY_MS) & (opens < (day_hi + 1) * DAY_MS)
        opens = opens[keep]
        return _merge(self.zone.to_utc(opens), self.zone.to_utc(opens + lengths[keep]))

    def static_timeline(self, always: bool) -> Intervals | None:
        """The whole timeline when it needs no span: always, no windows, or a full week covered."""
        if always:
            base: Intervals = (_ints([ALWAYS_START_MS]), _ints([ALWAYS_END_MS]))
        elif self.opens.shape[0] == 0:
            base = (_ints([]), _ints([]))
        elif self._covers_whole_week():
            # Every instant from the day after first_day to the end of last_day is covered by a
            # window opening within the range (windows last at most 24 h); only edges need work.
            lo, hi = self.zone.to_utc(
                _ints([(self.first_day or 0) + 1, (self.last_day or 0) + 1]) * DAY_MS
            ).tolist()
            lo = ALWAYS_START_MS if self.first_day is None else lo
            hi = ALWAYS_END_MS if self.last_day is None else hi
            days = [day for day in (self.first_day, self.last_day) if day is not None]
            parts = [(_ints([lo]), _ints([hi])), *(self.occurrences(day, day) for day in days)]
            base = _merge(*(np.concatenate(column) for column in zip(*parts, strict=True)))
        else:
            return None
        return _with_exceptions(base, self.lifted, self.added)

    def _covers_whole_week(self) -> bool:
        pieces = sorted(
            piece
            for start, end in zip(
                self.opens.tolist(), (self.opens + self.lengths).tolist(), strict=True
            )
            for piece in ((start, min(end, WEEK_MS)), (0, end - WEEK_MS))
            if piece[1] > piece[0]
        )
        reached = 0
        for start, end in pieces:
            if start > reached:
                return False
            reached = max(reached, end)
        return reached >= WEEK_MS

    def timeline(self, span_lo: int, span_hi: int) -> Intervals:
        """Exact for instants in [span_lo, span_hi), including whole intervals touching it."""
        day_lo, day_hi = span_lo // DAY_MS - MARGIN_DAYS, (span_hi - 1) // DAY_MS + MARGIN_DAYS
        while True:  # an ADDED exception can join intervals beyond the margin: reach past it
            near = (self.added[1] > day_lo * DAY_MS) & (self.added[0] < (day_hi + 1) * DAY_MS)
            lo = min([day_lo, *(self.added[0][near] // DAY_MS - MARGIN_DAYS).tolist()])
            hi = max([day_hi, *((self.added[1][near] - 1) // DAY_MS + MARGIN_DAYS).tolist()])
            if (lo, hi) == (day_lo, day_hi):
                break
            day_lo, day_hi = lo, hi
        return _with_exceptions(self.occurrences(day_lo, day_hi), self.lifted, self.added)


class ScheduleTable:
    """Many schedules, addressed by their position in the sequence given, queried in bulk."""

    def __init__(self, schedules: Sequence[Schedule]) -> None:
        zones: dict[str, _Zone] = {}
        distinct: dict[Schedule, int] = {}
        self._plans: list[_Plan] = []
        self._timelines: list[Intervals] = []
        spans: list[tuple[int, int]] = []
        for schedule in schedules:
            if schedule in distinct:
                continue
            distinct[schedule] = len(self._plans)
            zone = zones.setdefault(schedule.time_zone, _Zone(schedule.time_zone))
            plan = _plan(schedule, zone)
            static = plan.static_timeline(schedule.always)
            self._plans.append(plan)
            self._timelines.append(static if static is not None else (_ints([]), _ints([])))
            spans.append(_EVERYWHERE if static is not None else (0, 0))
        self._distinct_of = np.array([distinct[s] for s in schedules], dtype=np.intp)
        self._span_lo = _ints([lo for lo, _ in spans])
        self._span_hi = _ints([hi for _, hi in spans])
        self._always = np.array(
            [
                len(s) == 1 and s[0] == ALWAYS_START_MS and e[0] == ALWAYS_END_MS
                for s, e in self._timelines
            ],
            dtype=np.bool_,
        )
        self._pack()

    def active(
        self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """Whether each schedule is active at each time (arrays broadcast together)."""
        distinct, times, shape = self._prepare(schedule_index, time_ms)
        return (self._locate(distinct, times) >= 0).reshape(shape)

    def interval_at(
        self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike
    ) -> tuple[Ints, Ints]:
        """(start_ms, end_ms) of the merged active interval containing each time; -1 if inactive."""
        distinct, times, shape = self._prepare(schedule_index, time_ms)
        found = self._locate(distinct, times)
        hit = found >= 0
        start = np.where(hit, self._starts[found], -1).reshape(shape)
        return start, np.where(hit, self._ends[found], -1).reshape(shape)

    def intervals_between(self, index: int, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Active intervals overlapping [start_ms, end_ms), clipped to it, sorted and merged."""
        if end_ms <= start_ms:
            return []
        distinct, _, _ = self._prepare(index, [start_ms, end_ms - 1])
        starts, ends = self._timelines[int(distinct[0])]
        overlap = (ends > start_ms) & (starts < end_ms)
        clipped = zip(
            np.maximum(starts[overlap], start_ms).tolist(),
            np.minimum(ends[overlap], end_ms).tolist(),
            strict=True,
        )
        return [(int(lo), int(hi)) for lo, hi in clipped]

    def is_always(self, index: int) -> bool:
        """Active at every instant (also true of a timetable covering the whole week, unbounded)."""
        return bool(self._always[self._distinct_of[index]])

    def _prepare(
        self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.intp], Ints, tuple[int, ...]]:
        index, times = np.broadcast_arrays(np.asarray(schedule_index), np.asarray(time_ms))
        if index.size and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0):
            raise IndexError("schedule indices must be non-negative integers")
        distinct = self._distinct_of[index.reshape(-1)]
        times = times.reshape(-1).astype(np.int64, copy=False)
        self._cover(distinct, times)
        return distinct, times, index.shape

    def _cover(self, distinct: npt.NDArray[np.intp], times: Ints) -> None:
        """Grow the spans of the schedules asked about at times they do not cover yet."""
        outside = (times < self._span_lo[distinct]) | (times >= self._span_hi[distinct])
        if not outside.any():
            return
        todo = np.unique(distinct[outside])
        # Span every time a schedule is asked about in this call, so a span that moves instead
        # of growing never leaves one of its own queries uncovered.
        mine = np.isin(distinct, todo)
        slot = np.searchsorted(todo, distinct[mine])
        lows, highs = np.full(todo.shape, _EVERYWHERE[1]), np.full(todo.shape, _EVERYWHERE[0])
        np.minimum.at(lows, slot, times[mine])
        np.maximum.at(highs, slot, times[mine])
        for item, low, high in zip(todo.tolist(), lows.tolist(), highs.tolist(), strict=True):
            lo, hi = low // CHUNK_MS * CHUNK_MS, (high // CHUNK_MS + 1) * CHUNK_MS
            old_lo, old_hi = int(self._span_lo[item]), int(self._span_hi[item])
            if old_lo < old_hi and lo <= old_hi + CHUNK_MS and hi >= old_lo - CHUNK_MS:
                lo, hi = min(lo, old_lo), max(hi, old_hi)
            # else: far from the old span (the engine moved on): replace it, keeping memory bounded
            self._timelines[item] = self._plans[item].timeline(lo, hi)
            self._span_lo[item], self._span_hi[item] = lo, hi
        self._pack()

    def _pack(self) -> None:
        """Concatenate all timelines so one vectorised binary search serves every schedule."""
        lengths = np.array([s.shape[0] for s, _ in self._timelines], dtype=np.intp)
        self._first = np.concatenate(([0], np.cumsum(lengths))).astype(np.intp)
        pad = _ints([ALWAYS_END_MS])  # keeps indexing at a segment's end in bounds
        self._starts = np.concatenate([*(s for s, _ in self._timelines), pad])
        self._ends = np.concatenate([*(e for _, e in self._timelines), pad])
        self._steps = int(lengths.max(initial=0)).bit_length()

    def _locate(self, distinct: npt.NDArray[np.intp], times: Ints) -> npt.NDArray[np.intp]:
        """Packed index of the interval containing each time, or -1."""
        lo, hi = self._first[distinct], self._first[distinct + 1]
        for _ in range(self._steps):  # bisection per element: first interval starting after t
            middle = (lo + hi) >> 1
            right = (lo < hi) & (self._starts[middle] <= times)
            lo, hi = np.where(right, middle + 1, lo), np.where(right | (lo >= hi), hi, middle)
        found = lo - 1
        hit = (found >= self._first[distinct]) & (times < self._ends[found])
        return np.where(hit, found, -1)


def _plan(schedule: Schedule, zone: _Zone) -> _Plan:
    starts = [w.weekday * DAY_MS + _ms_of_day(w.start) for w in schedule.windows]
    lengths = [(_ms_of_day(w.end) - _ms_of_day(w.start) - 1) % DAY_MS + 1 for w in schedule.windows]
    order = np.argsort(_ints(starts), kind="stable")

    def exceptions(mode: ExceptionMode) -> Intervals:
        chosen = [e for e in schedule.exceptions if e.mode is mode]
        return _merge(
            _ints([to_ms(e.start) for e in chosen]), _ints([to_ms(e.end) for e in chosen])
        )

    return _Plan(
        zone=zone,
        opens=_ints(starts)[order],
        lengths=_ints(lengths)[order],
        first_day=None
        if schedule.first_day is None
        else schedule.first_day.toordinal() - _EPOCH_DAY,
        last_day=None if schedule.last_day is None else schedule.last_day.toordinal() - _EPOCH_DAY,
        lifted=exceptions(ExceptionMode.LIFTED),
        added=exceptions(ExceptionMode.ADDED),
    )
