"""Requirements that apply only at some times: scheduled exclusion zones, dated exceptions."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from enginekit import (
    SHAPES,
    Run,
    circle,
    curfew,
    exclusion,
    fix_at,
    fixes_every,
    local,
    rules_for,
    spans,
)

from tagwatch.domain.positions import Fix
from tagwatch.domain.schedules import (
    ExceptionMode,
    Schedule,
    ScheduleException,
    WeeklyWindow,
)

IN_30 = 170.0  # inside the 200 m exclusion shapes by 30 m
FAR = 1000.0
HOME = circle(radius_m=100.0)
AWAY = 2000.0
# A school: exclusion on weekdays 08:00-16:00 (2 Nov 2026 is a Monday).
SCHOOL_HOURS = Schedule.weekly(tuple(WeeklyWindow(day, time(8), time(16)) for day in range(5)))
NIGHTLY = Schedule.every_day(time(19), time(7))


def school_run(fixes: list[Fix]) -> Run:
    return Run(rules_for(zones=[exclusion(SHAPES["polygon"], schedule=SCHOOL_HOURS)])).one_by_one(
        fixes
    )


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("2026-11-02 16:30", id="monday after school"),
        pytest.param("2026-11-02 07:00", id="monday before school"),
        pytest.param("2026-11-07 10:00", id="saturday in school hours"),
    ],
)
def test_a_scheduled_exclusion_zone_is_not_violated_outside_its_window(first: str) -> None:
    start = local(first)
    run = school_run([fix_at(start + timedelta(minutes=m), IN_30) for m in range(30)])
    assert run.episodes == []
    assert run.events == []


def test_no_approach_warning_outside_the_window() -> None:
    zone = exclusion(SHAPES["circle"], schedule=SCHOOL_HOURS, warning_buffer_m=100.0)
    outside = Run(rules_for(zones=[zone])).one_by_one(
        fixes_every("2026-11-02 17:00", "2026-11-02 17:05", 260.0)
    )
    inside = Run(rules_for(zones=[zone])).one_by_one(
        fixes_every("2026-11-02 11:00", "2026-11-02 11:05", 260.0)
    )
    assert outside.warnings == []
    assert [w.fix_time for w in inside.warnings] == [local("2026-11-02 11:00")]


def test_a_scheduled_exclusion_zone_is_violated_inside_its_window() -> None:
    run = school_run(fixes_every("2026-11-02 10:00", "2026-11-02 10:10", IN_30))
    assert spans(run.episodes) == [(local("2026-11-02 10:00"), None)]


def test_a_violation_running_past_the_window_end_closes_at_the_window_end() -> None:
    run = school_run(fixes_every("2026-11-02 15:50", "2026-11-02 16:10", IN_30))
    assert spans(run.episodes) == [(local("2026-11-02 15:50"), local("2026-11-02 16:00"))]


def test_inside_when_the_window_opens_is_a_violation_from_the_window_start() -> None:
    run = school_run(fixes_every("2026-11-02 07:55", "2026-11-02 08:05", IN_30))
    assert spans(run.episodes) == [(local("2026-11-02 08:00"), None)]


def test_a_zone_limited_to_a_date_range_is_not_violated_after_it() -> None:
    # Round the clock (a 24 h window every day) on 1 and 2 November only.
    schedule = Schedule.every_day(
        time(0), time(0), first_day=date(2026, 11, 1), last_day=date(2026, 11, 2)
    )
    zone = exclusion(SHAPES["circle"], schedule=schedule)
    during = Run(rules_for(zones=[zone])).one_by_one(
        fixes_every("2026-11-02 23:50", "2026-11-02 23:55", IN_30)
    )
    after = Run(rules_for(zones=[zone])).one_by_one(
        fixes_every("2026-11-03 00:05", "2026-11-03 00:15", IN_30)
    )
    assert spans(during.episodes) == [(local("2026-11-02 23:50"), None)]
    assert after.episodes == []


def lifted(start: str, end: str) -> ScheduleException:
    return ScheduleException(local(start), local(end), ExceptionMode.LIFTED, "family wedding")


def test_a_lifted_exception_suppresses_a_curfew_violation_during_it() -> None:
    schedule = Schedule.every_day(
        time(19), time(7), exceptions=(lifted("2026-11-02 19:00", "2026-11-02 23:00"),)
    )
    run = Run(rules_for(curfews=[curfew(HOME, schedule)]))
    run.one_by_one(fixes_every("2026-11-02 19:00", "2026-11-02 22:50", AWAY, timedelta(minutes=5)))
    assert run.episodes == []


def test_the_curfew_applies_again_when_the_lifted_exception_ends() -> None:
    schedule = Schedule.every_day(
        time(19), time(7), exceptions=(lifted("2026-11-02 19:00", "2026-11-02 23:00"),)
    )
    run = Run(rules_for(curfews=[curfew(HOME, schedule)]))
    run.one_by_one(fixes_every("2026-11-02 22:50", "2026-11-02 23:10", AWAY, timedelta(minutes=5)))
    # Away at 22:55 (lifted) and 23:00 onwards: the violation starts when the curfew resumes.
    assert spans(run.episodes) == [(local("2026-11-02 23:00"), None)]


def test_a_lifted_exception_closes_an_open_curfew_episode_at_its_start() -> None:
    schedule = Schedule.every_day(
        time(19), time(7), exceptions=(lifted("2026-11-02 21:00", "2026-11-02 23:00"),)
    )
    run = Run(rules_for(curfews=[curfew(HOME, schedule)]))
    run.one_by_one(fixes_every("2026-11-02 20:40", "2026-11-02 21:20", AWAY, timedelta(minutes=5)))
    assert spans(run.episodes) == [(local("2026-11-02 20:40"), local("2026-11-02 21:00"))]


def test_an_added_exception_makes_a_zone_apply_outside_its_timetable() -> None:
    added = ScheduleException(
        local("2026-11-07 10:00"), local("2026-11-07 12:00"), ExceptionMode.ADDED, "match day"
    )
    schedule = Schedule.weekly(SCHOOL_HOURS.windows, exceptions=(added,))
    run = Run(rules_for(zones=[exclusion(SHAPES["circle"], schedule=schedule)]))
    run.one_by_one(fixes_every("2026-11-07 10:30", "2026-11-07 10:35", IN_30))
    assert spans(run.episodes) == [(local("2026-11-07 10:30"), None)]


def test_the_same_day_without_the_exception_is_not_a_violation() -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES["circle"], schedule=SCHOOL_HOURS)]))
    run.one_by_one(fixes_every("2026-11-07 10:30", "2026-11-07 10:35", IN_30))
    assert run.episodes == []
