"""When a schedule applies, as UTC intervals, with nothing but `zoneinfo`.

Deliberately plain and independent of the engine's fast schedule module: the simulator's
ground truth and the naive baseline must not share the engine's mistakes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from tagwatch.domain.schedules import ExceptionMode, Schedule

IntervalArray = npt.NDArray[np.float64]  # shape (k, 2): epoch seconds [start, end)


def local_instant(day: date, at: time, time_zone: str) -> datetime:
    """The UTC instant of a local wall-clock time (the earlier one if the clocks go back)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def local_seconds(day: date, seconds: float, time_zone: str) -> float:
    """Epoch seconds of `seconds` past local midnight of `day`, on the wall clock.

    Seconds past midnight are wall-clock seconds, so 19:00 is 68 400 on a 25-hour day too.
    """
    extra_days, rest = divmod(seconds, 86_400.0)
    whole = int(rest)
    at = time(whole // 3600, whole % 3600 // 60, whole % 60)
    on = day + timedelta(days=int(extra_days))
    return local_instant(on, at, time_zone).timestamp() + (rest - whole)


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(
    spans: list[tuple[float, float]], holes: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    result = spans
    for hole_start, hole_end in holes:
        kept: list[tuple[float, float]] = []
        for start, end in result:
            if hole_end <= start or end <= hole_start:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        result = kept
    return result


def active_intervals(schedule: Schedule, start: datetime, end: datetime) -> IntervalArray:
    """Merged intervals (epoch seconds) within [start, end) when `schedule` applies."""
    lo, hi = start.timestamp(), end.timestamp()
    spans: list[tuple[float, float]] = []
    if schedule.always:
        spans.append((lo, hi))
    else:
        zone = ZoneInfo(schedule.time_zone)
        # A window opening the day before `start` may still be open (overnight curfews).
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        while day <= last:
            in_range = (schedule.first_day is None or schedule.first_day <= day) and (
                schedule.last_day is None or day <= schedule.last_day
            )
            for window in schedule.windows if in_range else ():
                if window.weekday != day.weekday():
                    continue
                closes_on = day + timedelta(days=1) if window.overnight else day
                opens = local_instant(day, window.start, schedule.time_zone).timestamp()
                closes = local_instant(closes_on, window.end, schedule.time_zone).timestamp()
                spans.append((opens, closes))
            day += timedelta(days=1)
    added = [
        (e.start.timestamp(), e.end.timestamp())
        for e in schedule.exceptions
        if e.mode is ExceptionMode.ADDED
    ]
    lifted = [
        (e.start.timestamp(), e.end.timestamp())
        for e in schedule.exceptions
        if e.mode is ExceptionMode.LIFTED
    ]
    spans = _subtract(_merge(spans + added), lifted)
    clipped = [(max(s, lo), min(e, hi)) for s, e in spans if e > lo and s < hi]
    return np.array(clipped, np.float64).reshape(-1, 2)


def active_mask(intervals: IntervalArray, times: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each time (epoch seconds) lies in one of the sorted, disjoint intervals."""
    at = np.asarray(times, np.float64)
    if intervals.shape[0] == 0:
        return np.zeros(at.shape, np.bool_)
    index = np.searchsorted(intervals[:, 0], at, side="right") - 1
    safe = np.clip(index, 0, None)
    inside: npt.NDArray[np.bool_] = (index >= 0) & (at < intervals[safe, 1])
    return inside


def describe(schedule: Schedule) -> str:
    """A short human summary, e.g. 'every day 19:00-07:00' or 'Mon-Fri 08:00-18:00'."""
    if schedule.always:
        text = "always"
    else:
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        by_hours: dict[tuple[time, time], list[int]] = {}
        for window in schedule.windows:
            by_hours.setdefault((window.start, window.end), []).append(window.weekday)
        parts = []
        for (opens, closes), weekdays in by_hours.items():
            days = sorted(weekdays)
            if days == list(range(7)):
                when = "every day"
            elif days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
                when = f"{names[days[0]]}-{names[days[-1]]}"
            else:
                when = ",".join(names[d] for d in days)
            parts.append(f"{when} {opens:%H:%M}-{closes:%H:%M}")
        text = "; ".join(parts) or "never"
    if schedule.exceptions:
        text += f" ({len(schedule.exceptions)} exception(s))"
    return text
