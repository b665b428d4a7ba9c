"""When a requirement applies: local wall-clock timetables in the order's time zone.

A schedule is evaluated by `tagwatch.engine.schedule`; this module only describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

from tagwatch.domain.people import DEFAULT_TIME_ZONE


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """A window that opens every week on `weekday` (0 = Monday) at local `start`.

    If `end` is not after `start` the window is overnight and closes on the following day
    (a UK curfew of 19:00-07:00 on Friday runs into Saturday morning). `end == start`
    means a full 24 hours.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


class ExceptionMode(StrEnum):
    LIFTED = "lifted"  # the requirement does not apply (e.g. curfew lifted for Christmas lunch)
    ADDED = "added"  # the requirement applies although the timetable says not


@dataclass(frozen=True, slots=True)
class ScheduleException:
    """A dated change to the timetable, between two aware instants."""

    start: datetime
    end: datetime
    mode: ExceptionMode = ExceptionMode.LIFTED
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("schedule exceptions need time-zone-aware instants")
        if self.end <= self.start:
            raise ValueError("a schedule exception must end after it starts")


@dataclass(frozen=True, slots=True)
class Schedule:
    """`always` or a set of weekly windows, limited to a local date range, with exceptions.

    `first_day`/`last_day` are local dates, both inclusive; a window belongs to the day it
    opens on, so an overnight window opening on `last_day` runs to its end.
    """

    always: bool = True
    windows: tuple[WeeklyWindow, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    exceptions: tuple[ScheduleException, ...] = field(default=())
    time_zone: str = DEFAULT_TIME_ZONE

    @classmethod
    def weekly(
        cls,
        windows: tuple[WeeklyWindow, ...],
        *,
        first_day: date | None = None,
        last_day: date | None = None,
        exceptions: tuple[ScheduleException, ...] = (),
        time_zone: str = DEFAULT_TIME_ZONE,
    ) -> Schedule:
        return cls(
            always=False,
            windows=windows,
            first_day=first_day,
            last_day=last_day,
            exceptions=exceptions,
            time_zone=time_zone,
        )

    @classmethod
    def every_day(
        cls, start: time, end: time, *, time_zone: str = DEFAULT_TIME_ZONE, **kwargs: object
    ) -> Schedule:
        """The common UK curfew: the same hours every day, e.g. 19:00-07:00."""
        windows = tuple(WeeklyWindow(day, start, end) for day in range(7))
        return cls.weekly(windows, time_zone=time_zone, **kwargs)  # type: ignore[arg-type]
