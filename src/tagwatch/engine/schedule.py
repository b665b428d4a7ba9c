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

Weekly schedules become merged UTC intervals lazily, over whole 8-week chunks (`CHUNK_MS`) around
the times asked about; a span grows up to `MAX_SPAN_CHUNKS` chunks and otherwise moves, so a
long-running engine does not accumulate history. Identical schedules share one timeline. Spans
are built for many schedules at once and queries are one binary search vectorised over all
timelines: Python loops run over bisection steps, and over schedules only while spans are built
(once per chunk), never over times. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from tagwatch.domain.schedules import ExceptionMode, Schedule
from tagwatch.engine.timebase import from_ms, to_ms

ALWAYS_START_MS = -(2**62)  # start of the interval of an always-active schedule (no lower bound)
ALWAYS_END_MS = 2**62  # end of the interval of an always-active schedule (no upper bound)

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
CHUNK_MS = 8 * WEEK_MS
MAX_SPAN_CHUNKS = 3
# Local days built beyond a span: an interval made of windows is shorter than a week (else the
# timetable covers the whole week: no span needed), two may join across a DST gap, and local
# and UTC dates differ by up to a day.
MARGIN_DAYS = 21
_NO_DAY = 2**40  # an open end of the date range, in days
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_INT64 = np.iinfo(np.int64)

Ints = npt.NDArray[np.int64]
Intervals = tuple[Ints, Ints]
Indices = npt.NDArray[np.intp]


def _ints(values: object) -> Ints:
    return np.asarray(values, dtype=np.int64).reshape(-1)


_NOTHING: Intervals = (_ints([]), _ints([]))


def _ms_of_day(moment: time) -> int:
    seconds = (moment.hour * 60 + moment.minute) * 60 + moment.second
    return seconds * 1000 + moment.microsecond // 1000


def _merge_groups(group: Ints, starts: Ints, ends: Ints) -> tuple[Ints, Ints, Ints]:
    """Merge touching or overlapping intervals within each group; rows sorted by group, start."""
    keep = ends > starts
    group, starts, ends = group[keep], starts[keep], ends[keep]
    if starts.shape[0] == 0:
        return group, starts, ends
    if group[0] == group[-1]:
        reach = np.maximum.accumulate(ends)
    else:  # a running maximum that restarts per group: lift each group above all earlier ones
        base, span = int(starts.min()), int(ends.max()) - int(starts.min()) + 1
        if (int(group[-1]) - int(group[0])) * span >= 2**62:
            raise OverflowError("times asked about span too many centuries at once")
        lift = (group - group[0]) * span
        reach = np.maximum.accumulate(ends - base + lift) - lift + base
    fresh = np.flatnonzero((group[1:] != group[:-1]) | (starts[1:] > reach[:-1])) + 1
    first, last = np.append(0, fresh), np.append(fresh - 1, starts.shape[0] - 1)
    return group[first], starts[first], reach[last]


def _merge(starts: Ints, ends: Ints) -> Intervals:
    order = np.argsort(starts, kind="stable")
    _, starts, ends = _merge_groups(np.zeros_like(starts), starts[order], ends[order])
    return starts, ends


def _contains(intervals: Intervals, points: Ints) -> npt.NDArray[np.bool_]:
    starts, ends = intervals
    at = np.searchsorted(starts, points, side="right") - 1
    return (at >= 0) & (points < np.append(ends, 0)[at])  # at == -1 reads the 0 appended


def _with_exceptions(base: Intervals, lifted: Intervals, added: Intervals) -> Intervals:
    """(base minus lifted) plus added, by sweeping the elementary pieces between all boundaries."""
    if lifted[0].shape[0] == 0 and added[0].shape[0] == 0:
        return base
    points = np.sort(np.concatenate((*base, *lifted, *added)))
    points = points[np.append(True, points[1:] != points[:-1])]
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
        # Daily samples find every change (since 1970 tzdata has no two changes within six days of
        # each other); bisection then finds the exact millisecond.
        start = to_ms(datetime(year, 1, 1, tzinfo=UTC))
        end = to_ms(datetime(year + 1, 1, 1, tzinfo=UTC))
        before = self._offset_at(start)
        self._changes[start] = before  # pins the offset where the previous year is not sampled
        for sample in range(start + DAY_MS, end + 1, DAY_MS):
            after = self._offset_at(sample)
            if after != before:
                low, high = sample - DAY_MS, sample
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
        since, offset = map(_ints, zip(*sorted(self._changes.items()), strict=True))
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


def _exceptions(schedule: Schedule, mode: ExceptionMode) -> Intervals:
    chosen = [e for e in schedule.exceptions if e.mode is mode]
    starts, ends = _ints([to_ms(e.start) for e in chosen]), _ints([to_ms(e.end) for e in chosen])
    return (starts, ends) if len(chosen) < 2 else _merge(starts, ends)


def _covers_whole_week(opens: Ints, lengths: Ints) -> bool:
    """Whether the windows, repeated weekly, leave no instant of the week uncovered."""
    if int(lengths.sum()) < WEEK_MS:
        return False
    starts, ends = _merge(
        np.append(opens, opens - WEEK_MS),
        np.append(opens, opens - WEEK_MS) + np.append(lengths, lengths),
    )
    return bool(((starts <= 0) & (ends >= WEEK_MS)).any())


class ScheduleTable:
    """Many schedules, addressed by their position in the sequence given, queried in bulk."""

    def __init__(self, schedules: Sequence[Schedule]) -> None:
        distinct: dict[Schedule, int] = {}
        self._distinct_of = np.array(
            [distinct.setdefault(s, len(distinct)) for s in schedules], dtype=np.intp
        )
        zones: dict[str, int] = {}
        clock: dict[time, int] = {}  # few distinct times of day among many windows
        zone_of, first_day, last_day, opens, lengths, counts = [], [], [], [], [], [0]
        self._lifted: list[Intervals] = []
        self._added: list[Intervals] = []
        for schedule in distinct:
            zone_of.append(zones.setdefault(schedule.time_zone, len(zones)))
            for moment in {w.start for w in schedule.windows} | {w.end for w in schedule.windows}:
                clock.setdefault(moment, _ms_of_day(moment))
            windows = sorted(
                (w.weekday * DAY_MS + clock[w.start], clock[w.end] - clock[w.start])
                for w in schedule.windows
            )
            opens += [start for start, _ in windows]
            lengths += [(length - 1) % DAY_MS + 1 for _, length in windows]  # end <= start: +24 h
            counts.append(len(windows))
            first, last = schedule.first_day, schedule.last_day
            first_day.append(-_NO_DAY if first is None else first.toordinal() - _EPOCH_DAY)
            last_day.append(_NO_DAY if last is None else last.toordinal() - _EPOCH_DAY)
            self._lifted.append(_exceptions(schedule, ExceptionMode.LIFTED))
            self._added.append(_exceptions(schedule, ExceptionMode.ADDED))
        self._zones = [_Zone(name) for name in zones]
        self._zone_of = np.array(zone_of, dtype=np.intp)
        self._first_day, self._last_day = _ints(first_day), _ints(last_day)
        self._win_open, self._win_len = _ints(opens), _ints(lengths)
        self._win_ptr = np.cumsum(counts, dtype=np.int64)
        static = [self._static_timeline(item, s.always) for item, s in enumerate(distinct)]
        self._timelines = [_NOTHING if timeline is None else timeline for timeline in static]
        self._lazy = np.array([timeline is None for timeline in static], dtype=np.bool_)
        # Static timelines cover every time; lazy ones nothing until first asked.
        self._span_lo = np.where(self._lazy, 0, _INT64.min)
        self._span_hi = np.where(self._lazy, 0, _INT64.max)
        self._pack()
        single, heads = np.diff(self._first) == 1, self._first[:-1]
        forever = (self._starts[heads] == ALWAYS_START_MS) & (self._ends[heads] == ALWAYS_END_MS)
        self._always = single & forever

    def active(
        self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """Whether each schedule is active at each time (the arrays broadcast together)."""
        distinct, times, shape = self._prepare(schedule_index, time_ms)
        return (self._locate(distinct, times) >= 0).reshape(shape)

    def interval_at(self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike) -> Intervals:
        """(start_ms, end_ms) of the merged active interval containing each time; -1 if inactive."""
        distinct, times, shape = self._prepare(schedule_index, time_ms)
        found = self._locate(distinct, times)
        start = np.where(found >= 0, self._starts[found], -1).reshape(shape)
        return start, np.where(found >= 0, self._ends[found], -1).reshape(shape)

    def intervals_between(self, index: int, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Active intervals overlapping [start_ms, end_ms), clipped to it, sorted and merged."""
        if end_ms <= start_ms:
            return []
        distinct, _, _ = self._prepare(index, [start_ms, end_ms - 1])
        starts, ends = self._timelines[int(distinct[0])]
        overlap = (ends > start_ms) & (starts < end_ms)
        lows = np.maximum(starts[overlap], start_ms).tolist()
        return list(zip(lows, np.minimum(ends[overlap], end_ms).tolist(), strict=True))

    def is_always(self, index: int) -> bool:
        """Active at every instant (also true of an unbounded timetable covering the whole week)."""
        return bool(self._always[self._distinct_of[index]])

    def _static_timeline(self, item: int, always: bool) -> Intervals | None:
        """The whole timeline when it needs no span: always, no windows, or a full week covered."""
        first, last = int(self._first_day[item]), int(self._last_day[item])
        windows = slice(self._win_ptr[item], self._win_ptr[item + 1])
        lifted = self._lifted[item]
        if always and self._added[item][0].shape[0] == 0:  # common: only LIFTED gaps, if any
            return (np.append(ALWAYS_START_MS, lifted[1]), np.append(lifted[0], ALWAYS_END_MS))
        if always:
            base = (_ints([ALWAYS_START_MS]), _ints([ALWAYS_END_MS]))
        elif windows.start == windows.stop or last < first:
            base = _NOTHING
        elif _covers_whole_week(self._win_open[windows], self._win_len[windows]):
            # Every instant from the day after first_day to the end of last_day is inside a window
            # opening in the range (windows last at most 24 h): only the two edge days need work.
            zone, days = (
                self._zones[self._zone_of[item]],
                [d for d in (first, last) if abs(d) < _NO_DAY],
            )
            edge = {day: int(zone.to_utc(_ints([(day + 1) * DAY_MS]))[0]) for day in days}
            lo, hi = edge.get(first, ALWAYS_START_MS), edge.get(last, ALWAYS_END_MS)
            _, starts, ends = self._occurrences(np.full(len(days), item), _ints(days), _ints(days))
            base = _merge(np.append(starts, lo), np.append(ends, hi))
        else:
            return None
        return _with_exceptions(base, lifted, self._added[item])

    def _occurrences(self, items: Ints, day_lo: Ints, day_hi: Ints) -> tuple[Ints, Ints, Ints]:
        """(g, start, end), sorted and merged per g, of the windows of items[g] opening on local
        days day_lo[g] to day_hi[g] and within the date range."""
        day_lo = np.maximum(day_lo, self._first_day[items])
        day_hi = np.minimum(day_hi, self._last_day[items])
        count = self._win_ptr[items + 1] - self._win_ptr[items]
        monday = day_lo - (day_lo + 3) % 7  # 1970-01-01 was a Thursday
        rows = np.where(day_hi >= day_lo, (day_hi - monday) // 7 + 1, 0) * count
        group = np.repeat(np.arange(items.shape[0]), rows)
        week, slot = np.divmod(
            np.arange(group.shape[0]) - np.repeat(np.cumsum(rows) - rows, rows), count[group]
        )
        window = self._win_ptr[items][group] + slot  # windows are sorted, so openings are too
        opens = (monday[group] + 7 * week) * DAY_MS + self._win_open[window]
        keep = (opens >= day_lo[group] * DAY_MS) & (opens < (day_hi[group] + 1) * DAY_MS)
        group, opens, window = group[keep], opens[keep], window[keep]
        bounds = np.append(opens, opens + self._win_len[window])
        zone_of = np.tile(self._zone_of[items][group], 2)
        zones = np.unique(zone_of).tolist()
        for zone in zones:  # usually one: then no masks
            here = zone_of == zone if len(zones) > 1 else slice(None)
            bounds[here] = self._zones[zone].to_utc(bounds[here])
        return _merge_groups(group, *np.split(bounds, 2))

    def _build(self, items: Ints, span_lo: Ints, span_hi: Ints) -> None:
        """Timelines exact over [span_lo, span_hi), with whole intervals, of lazy schedules."""
        day_lo, day_hi = span_lo // DAY_MS - MARGIN_DAYS, (span_hi - 1) // DAY_MS + MARGIN_DAYS
        for g, item in enumerate(items.tolist()):
            added_starts, added_ends = self._added[item]
            while added_starts.shape[0]:  # ADDED time can join intervals beyond the margin
                near = (added_ends > day_lo[g] * DAY_MS) & (added_starts < (day_hi[g] + 1) * DAY_MS)
                lo = np.min(added_starts[near] // DAY_MS - MARGIN_DAYS, initial=day_lo[g])
                hi = np.max((added_ends[near] - 1) // DAY_MS + MARGIN_DAYS, initial=day_hi[g])
                if lo == day_lo[g] and hi == day_hi[g]:
                    break
                day_lo[g], day_hi[g] = lo, hi
        group, starts, ends = self._occurrences(items, day_lo, day_hi)
        # Keep only intervals touching the span (smaller arrays, faster searches); schedules with
        # exceptions are trimmed after them, as ADDED time may join an interval outside the span.
        special = [self._lifted[i][0].size + self._added[i][0].size > 0 for i in items.tolist()]
        keep = (ends > span_lo[group]) & (starts < span_hi[group]) | np.array(special)[group]
        group, starts, ends = group[keep], starts[keep], ends[keep]
        cuts = np.searchsorted(group, np.arange(items.shape[0] + 1)).tolist()
        for g, item in enumerate(items.tolist()):
            timeline = starts[cuts[g] : cuts[g + 1]], ends[cuts[g] : cuts[g + 1]]
            if special[g]:
                starts_x, ends_x = _with_exceptions(timeline, self._lifted[item], self._added[item])
                near = (ends_x > span_lo[g]) & (starts_x < span_hi[g])
                timeline = starts_x[near], ends_x[near]
            self._timelines[item] = timeline

    def _prepare(
        self, schedule_index: npt.ArrayLike, time_ms: npt.ArrayLike
    ) -> tuple[Indices, Ints, tuple[int, ...]]:
        index, times = np.broadcast_arrays(np.asarray(schedule_index), np.asarray(time_ms))
        if index.size and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0):
            raise IndexError("schedule indices must be non-negative integers")
        distinct = self._distinct_of[index.reshape(-1)]
        times = times.reshape(-1).astype(np.int64, copy=False)
        stale = (times < self._span_lo[distinct]) | (times >= self._span_hi[distinct])
        stale &= self._lazy[distinct]  # static timelines already cover every time
        if stale.any():
            self._cover(distinct, times, np.unique(distinct[stale]))
        return distinct, times, index.shape

    def _cover(self, distinct: Indices, times: Ints, items: Ints) -> None:
        """Build spans for `items` over every time they are asked about in this call, so a span
        that moves instead of growing never leaves one of its own queries uncovered."""
        mine = np.isin(distinct, items)
        slot = np.searchsorted(items, distinct[mine])
        low, high = np.full(items.shape, _INT64.max), np.full(items.shape, _INT64.min)
        np.minimum.at(low, slot, times[mine])
        np.maximum.at(high, slot, times[mine])
        lo, hi = low // CHUNK_MS * CHUNK_MS, (high // CHUNK_MS + 1) * CHUNK_MS
        old_lo, old_hi = self._span_lo[items], self._span_hi[items]
        hull_lo, hull_hi = np.minimum(lo, old_lo), np.maximum(hi, old_hi)
        grow = (old_lo < old_hi) & (hull_hi - hull_lo <= MAX_SPAN_CHUNKS * CHUNK_MS)
        lo, hi = np.where(grow, hull_lo, lo), np.where(grow, hull_hi, hi)
        self._build(items, lo, hi)
        self._span_lo[items], self._span_hi[items] = lo, hi
        self._pack()

    def _pack(self) -> None:
        """Concatenate all timelines so one vectorised binary search serves every schedule."""
        timelines = self._timelines
        lengths = np.array([starts.shape[0] for starts, _ in timelines], dtype=np.intp)
        self._first = np.append(0, np.cumsum(lengths)).astype(np.intp)
        pad = [_ints([ALWAYS_END_MS])]  # keeps indexing one past a timeline in bounds
        self._starts = np.concatenate([starts for starts, _ in timelines] + pad)
        self._ends = np.concatenate([ends for _, ends in timelines] + pad)
        self._steps = int(lengths.max(initial=0)).bit_length()

    def _locate(self, distinct: Indices, times: Ints) -> Indices:
        """Packed index of the interval containing each time, or -1."""
        lo, hi = self._first[distinct], self._first[distinct + 1]
        for _ in range(self._steps):  # per element: the first interval starting after the time
            middle = (lo + hi) >> 1
            right = (lo < hi) & (self._starts[middle] <= times)
            lo, hi = np.where(right, middle + 1, lo), np.where(right | (lo >= hi), hi, middle)
        found = lo - 1
        hit = (found >= self._first[distinct]) & (times < self._ends[found])
        return np.where(hit, found, -1)
