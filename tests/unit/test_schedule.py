"""Schedules in bulk: local wall-clock timetables, overnight windows, DST, dates and exceptions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagwatch.domain.schedules import ExceptionMode, Schedule, ScheduleException, WeeklyWindow
from tagwatch.engine.schedule import ALWAYS_END_MS, ALWAYS_START_MS, CHUNK_MS, ScheduleTable
from tagwatch.engine.timebase import from_ms, to_ms

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3_600_000
CURFEW = Schedule.every_day(time(19), time(7))
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def local(text: str, tz: ZoneInfo = LONDON, fold: int = 0) -> int:
    """Engine time of a local wall-clock reading, e.g. local("2026-06-10 19:00")."""
    return to_ms(datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold))


def utc(text: str) -> int:
    return to_ms(datetime.fromisoformat(text).replace(tzinfo=UTC))


def dated(start: str, end: str, mode: ExceptionMode = ExceptionMode.LIFTED) -> ScheduleException:
    """A dated exception between two London wall-clock times."""
    return ScheduleException(from_ms(local(start)), from_ms(local(end)), mode)


def active_at(schedule: Schedule, time_ms: int) -> bool:
    return bool(ScheduleTable([schedule]).active(np.array([0]), np.array([time_ms]))[0])


def interval_at(schedule: Schedule, time_ms: int) -> tuple[int, int]:
    starts, ends = ScheduleTable([schedule]).interval_at(np.array([0]), np.array([time_ms]))
    return int(starts[0]), int(ends[0])


# --- a slow reference, written plainly: one time at a time, straight from the definitions ---


def wall_clock_reaches(reading: datetime, tz: ZoneInfo) -> int:
    """First instant at which the local wall clock reads `reading` (naive) or later."""
    earliest = to_ms(reading.replace(tzinfo=tz, fold=0))
    if from_ms(earliest).astimezone(tz).replace(tzinfo=None) == reading:
        return earliest  # the reading exists; fold=0 is its first occurrence
    # In a spring-forward gap fold=1 lands before the jump and fold=0 after it: find the jump.
    low, high = to_ms(reading.replace(tzinfo=tz, fold=1)), earliest
    assert low < high
    while high - low > 1:
        middle = (low + high) // 2
        if from_ms(middle).astimezone(tz).replace(tzinfo=None) >= reading:
            high = middle
        else:
            low = middle
    return high


def reference_active(schedule: Schedule, time_ms: int) -> bool:
    moment = from_ms(time_ms)
    for exception in schedule.exceptions:
        if exception.mode is ExceptionMode.ADDED and exception.start <= moment < exception.end:
            return True
    for exception in schedule.exceptions:
        if exception.mode is ExceptionMode.LIFTED and exception.start <= moment < exception.end:
            return False
    if schedule.always:
        return True
    tz = ZoneInfo(schedule.time_zone)
    today = moment.astimezone(tz).date()
    for day in (today + timedelta(days=offset) for offset in (-2, -1, 0, 1)):
        if schedule.first_day is not None and day < schedule.first_day:
            continue
        if schedule.last_day is not None and day > schedule.last_day:
            continue
        for window in schedule.windows:
            if window.weekday != day.weekday():
                continue
            closing_day = day + timedelta(days=1) if window.overnight else day
            opens = wall_clock_reaches(datetime.combine(day, window.start), tz)
            closes = wall_clock_reaches(datetime.combine(closing_day, window.end), tz)
            if opens <= time_ms < closes:
                return True
    return False


def test_reference_maps_gap_to_the_jump_and_fold_to_the_first_occurrence() -> None:
    def reaches(reading: str) -> int:
        return wall_clock_reaches(datetime.fromisoformat(reading), LONDON)

    assert reaches("2026-03-29 01:30") == utc("2026-03-29 01:00")
    assert reaches("2026-03-29 02:00") == utc("2026-03-29 01:00")
    assert reaches("2026-10-25 01:30") == utc("2026-10-25 00:30")
    assert reaches("2026-10-25 02:00") == utc("2026-10-25 02:00")
    assert reaches("2026-06-10 19:00") == utc("2026-06-10 18:00")


# --- tables ---


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-10 12:00", False),
        ("2026-06-10 18:59", False),
        ("2026-06-10 19:00", True),
        ("2026-06-10 23:59", True),
        ("2026-06-11 00:00", True),
        ("2026-06-11 06:59", True),
        ("2026-06-11 07:00", False),
        ("2026-01-15 18:59", False),
        ("2026-01-15 19:00", True),
        ("2026-01-16 06:59", True),
        ("2026-01-16 07:00", False),
    ],
)
def test_every_day_curfew_follows_local_time(when: str, expected: bool) -> None:
    assert active_at(CURFEW, local(when)) is expected


def test_summer_curfew_opens_at_18_utc() -> None:
    assert interval_at(CURFEW, utc("2026-06-10 20:00")) == (
        utc("2026-06-10 18:00"),
        utc("2026-06-11 06:00"),
    )


SUNDAY_NIGHT = Schedule.weekly((WeeklyWindow(SUN, time(22), time(6)),))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-14 21:59", False),  # Sunday
        ("2026-06-14 22:00", True),
        ("2026-06-15 05:59", True),  # Monday morning: still Sunday's window
        ("2026-06-15 06:00", False),
        ("2026-06-15 22:30", False),  # Monday night has no window
        ("2026-06-14 05:00", False),  # Sunday morning would belong to a Saturday window
        ("2026-06-21 23:00", True),  # next week
    ],
)
def test_sunday_overnight_window_wraps_into_monday(when: str, expected: bool) -> None:
    assert active_at(SUNDAY_NIGHT, local(when)) is expected


@pytest.mark.parametrize(
    ("opening_evening", "hours"),
    [
        ("2026-03-28 19:00", 11),  # clocks go forward at 01:00 GMT on 29 March
        ("2026-10-24 19:00", 13),  # clocks go back at 02:00 BST on 25 October
        ("2026-06-10 19:00", 12),
        ("2026-12-10 19:00", 12),
    ],
)
def test_curfew_length_across_dst_changes(opening_evening: str, hours: int) -> None:
    start, end = interval_at(CURFEW, local(opening_evening) + HOUR)
    assert start == local(opening_evening)
    assert end - start == hours * HOUR


def window(weekday: int, start: str, end: str) -> Schedule:
    return Schedule.weekly(
        (WeeklyWindow(weekday, time.fromisoformat(start), time.fromisoformat(end)),)
    )


@pytest.mark.parametrize(
    ("schedule", "probe_utc", "expected_utc"),
    [
        # spring: 01:00-02:00 does not exist on Sunday 29 March; a boundary there is the jump
        (
            window(SUN, "01:30", "03:00"),
            "2026-03-29 01:30",
            ("2026-03-29 01:00", "2026-03-29 02:00"),
        ),
        (
            window(SUN, "01:00", "03:00"),
            "2026-03-29 01:00",
            ("2026-03-29 01:00", "2026-03-29 02:00"),
        ),
        (
            window(SAT, "22:00", "01:30"),
            "2026-03-29 00:30",
            ("2026-03-28 22:00", "2026-03-29 01:00"),
        ),
        (
            window(SAT, "22:00", "02:00"),
            "2026-03-29 00:30",
            ("2026-03-28 22:00", "2026-03-29 01:00"),
        ),
        (
            window(SUN, "00:30", "01:30"),
            "2026-03-29 00:45",
            ("2026-03-29 00:30", "2026-03-29 01:00"),
        ),
        # autumn: 01:00-02:00 happens twice on Sunday 25 October; a boundary there is the first
        (
            window(SUN, "01:30", "03:00"),
            "2026-10-25 01:30",
            ("2026-10-25 00:30", "2026-10-25 03:00"),
        ),
        (
            window(SAT, "22:00", "01:30"),
            "2026-10-24 23:30",
            ("2026-10-24 21:00", "2026-10-25 00:30"),
        ),
        (
            window(SUN, "02:00", "03:00"),
            "2026-10-25 02:30",
            ("2026-10-25 02:00", "2026-10-25 03:00"),
        ),
        (
            window(SUN, "00:00", "02:00"),
            "2026-10-25 01:30",
            ("2026-10-24 23:00", "2026-10-25 02:00"),
        ),
    ],
)
def test_boundaries_in_the_dst_gap_and_fold(
    schedule: Schedule, probe_utc: str, expected_utc: tuple[str, str]
) -> None:
    assert interval_at(schedule, utc(probe_utc)) == (utc(expected_utc[0]), utc(expected_utc[1]))


def test_window_wholly_in_the_spring_gap_never_opens_that_day() -> None:
    schedule = window(SUN, "01:10", "01:50")
    table = ScheduleTable([schedule])
    assert table.intervals_between(0, utc("2026-03-28 12:00"), utc("2026-03-29 12:00")) == []
    assert table.intervals_between(0, utc("2026-04-05 00:00"), utc("2026-04-05 03:00")) == [
        (utc("2026-04-05 00:10"), utc("2026-04-05 00:50"))
    ]


def test_window_ending_in_the_fold_does_not_reopen_on_the_second_pass() -> None:
    schedule = window(SAT, "22:00", "01:30")
    assert active_at(schedule, local("2026-10-25 01:10", fold=0))
    assert not active_at(schedule, local("2026-10-25 01:10", fold=1))


BOUNDED = Schedule.every_day(
    time(19), time(7), first_day=date(2026, 6, 10), last_day=date(2026, 6, 12)
)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-10 06:00", False),  # opened on 9 June, before first_day
        ("2026-06-10 18:59", False),
        ("2026-06-10 19:00", True),
        ("2026-06-12 23:00", True),
        ("2026-06-13 06:59", True),  # opened on last_day: runs to its end
        ("2026-06-13 07:00", False),
        ("2026-06-13 19:30", False),  # the day after last_day
    ],
)
def test_date_range_edges(when: str, expected: bool) -> None:
    assert active_at(BOUNDED, local(when)) is expected


def test_date_range_gives_exactly_its_nights() -> None:
    table = ScheduleTable([BOUNDED])
    assert table.intervals_between(0, local("2026-06-01 00:00"), local("2026-07-01 00:00")) == [
        (local(f"2026-06-{day} 19:00"), local(f"2026-06-{day + 1} 07:00")) for day in (10, 11, 12)
    ]


def test_lifted_exception_splits_a_curfew_in_two() -> None:
    schedule = Schedule.every_day(
        time(19), time(7), exceptions=(dated("2026-12-24 22:00", "2026-12-25 01:00"),)
    )
    table = ScheduleTable([schedule])
    assert table.intervals_between(0, local("2026-12-24 12:00"), local("2026-12-25 12:00")) == [
        (local("2026-12-24 19:00"), local("2026-12-24 22:00")),
        (local("2026-12-25 01:00"), local("2026-12-25 07:00")),
    ]
    assert interval_at(schedule, local("2026-12-24 20:00")) == (
        local("2026-12-24 19:00"),
        local("2026-12-24 22:00"),
    )
    assert not active_at(schedule, local("2026-12-24 23:00"))


def test_christmas_lunch_lifts_a_round_the_clock_curfew() -> None:
    schedule = Schedule.every_day(
        time(0), time(0), exceptions=(dated("2026-12-25 10:00", "2026-12-25 16:00"),)
    )
    table = ScheduleTable([schedule])
    assert not table.is_always(0)
    assert interval_at(schedule, local("2026-12-25 09:00")) == (
        ALWAYS_START_MS,
        local("2026-12-25 10:00"),
    )
    assert interval_at(schedule, local("2026-12-25 12:00")) == (-1, -1)
    assert interval_at(schedule, local("2026-12-25 17:00")) == (
        local("2026-12-25 16:00"),
        ALWAYS_END_MS,
    )


def test_added_exception_outside_windows_and_next_to_one() -> None:
    added = ExceptionMode.ADDED
    schedule = Schedule.every_day(
        time(19),
        time(7),
        exceptions=(
            dated("2026-06-10 13:00", "2026-06-10 15:00", added),
            dated("2026-06-11 17:00", "2026-06-11 19:00", added),
        ),
    )
    assert not active_at(schedule, local("2026-06-10 12:59"))
    assert interval_at(schedule, local("2026-06-10 14:00")) == (
        local("2026-06-10 13:00"),
        local("2026-06-10 15:00"),
    )
    assert interval_at(schedule, local("2026-06-11 18:00")) == (
        local("2026-06-11 17:00"),
        local("2026-06-12 07:00"),
    )


def test_appointment_is_only_its_added_time() -> None:
    schedule = Schedule(
        always=False,
        exceptions=(dated("2026-06-10 10:00", "2026-06-10 11:00", ExceptionMode.ADDED),),
    )
    table = ScheduleTable([schedule])
    times = np.array(
        [local("2026-06-10 09:59"), local("2026-06-10 10:00"), local("2026-06-10 11:00")]
    )
    assert table.active(np.zeros(3, np.int32), times).tolist() == [False, True, False]


@pytest.mark.parametrize("always", [False, True])
def test_added_time_applies_within_lifted_time(always: bool) -> None:
    holiday = dated("2026-08-01 00:00", "2026-08-15 00:00")
    appointment = dated("2026-08-05 20:00", "2026-08-05 21:00", ExceptionMode.ADDED)
    timetable = Schedule() if always else CURFEW
    schedule = replace(timetable, exceptions=(holiday, appointment))
    assert not active_at(schedule, local("2026-08-05 19:30"))
    assert interval_at(schedule, local("2026-08-05 20:30")) == (
        local("2026-08-05 20:00"),
        local("2026-08-05 21:00"),
    )


def test_long_added_period_joins_the_curfews_at_both_ends() -> None:
    remand = dated("2026-01-01 00:00", "2026-06-01 00:00", ExceptionMode.ADDED)
    schedule = Schedule.every_day(time(19), time(7), exceptions=(remand,))
    assert interval_at(schedule, local("2026-03-01 12:00")) == (
        local("2025-12-31 19:00"),
        local("2026-06-01 07:00"),
    )


@pytest.mark.parametrize("first_weekday", range(7))
def test_six_day_chain_of_windows_is_one_interval_asked_at_any_hour(first_weekday: int) -> None:
    # A fresh table per probe starts its span near the probe; a chain straddling a span
    # boundary (a multiple of CHUNK_MS) must still come out whole, wherever the week falls.
    boundary = from_ms(-(-utc("2026-02-01 00:00") // CHUNK_MS) * CHUNK_MS).date()
    first = boundary - timedelta(days=(boundary.weekday() - first_weekday) % 7)
    days = [(first_weekday + offset) % 7 for offset in range(6)]
    chain = Schedule.weekly(tuple(WeeklyWindow(day, time(12), time(12)) for day in days))
    expected = (local(f"{first} 12:00"), local(f"{first + timedelta(days=6)} 12:00"))
    for probe in range(expected[0], expected[1], 3 * HOUR):
        assert interval_at(chain, probe) == expected


@pytest.mark.parametrize(
    ("opening_evening", "hours"),
    [
        ("2026-03-07 21:00", 8),  # US clocks go forward on 8 March
        ("2026-10-31 21:00", 10),  # and back on 1 November
        ("2026-06-10 21:00", 9),
    ],
)
def test_new_york_curfew_uses_new_york_rules(opening_evening: str, hours: int) -> None:
    schedule = Schedule.every_day(time(21), time(6), time_zone="America/New_York")
    opening = local(opening_evening, NEW_YORK)
    start, end = interval_at(schedule, opening + HOUR)
    assert (start, end - start) == (opening, hours * HOUR)
    same_hours_in_london = Schedule.every_day(time(21), time(6))
    assert interval_at(same_hours_in_london, opening + HOUR) != (start, end)


def test_schedules_in_different_zones_share_one_table() -> None:
    new_york = Schedule.every_day(time(21), time(6), time_zone="America/New_York")
    london = Schedule.every_day(time(21), time(6))
    both = [london, new_york, london, new_york]
    table = ScheduleTable(both)
    times = np.array([utc("2026-06-10 20:30"), utc("2026-06-11 01:30"), utc("2026-06-11 05:30")])
    index, when = np.meshgrid(np.arange(4), times)
    expected = [[reference_active(both[i], int(t)) for i in range(4)] for t in times]
    assert table.active(index, when).tolist() == expected
    assert expected == [[True, False] * 2, [True, True] * 2, [False, True] * 2]


def test_always_schedule_has_sentinel_interval() -> None:
    table = ScheduleTable([Schedule(), CURFEW])
    starts, ends = table.interval_at(np.array([0, 1]), np.array([utc("2026-06-10 12:00")] * 2))
    assert starts.tolist() == [ALWAYS_START_MS, -1]
    assert ends.tolist() == [ALWAYS_END_MS, -1]
    assert table.is_always(0)
    assert not table.is_always(1)
    assert table.intervals_between(0, 5, 9) == [(5, 9)]
    assert table.intervals_between(1, 9, 9) == []


def test_unbounded_round_the_clock_timetable_is_always() -> None:
    assert ScheduleTable([Schedule.every_day(time(12), time(12))]).is_always(0)


def test_round_the_clock_timetable_with_dates_is_one_interval() -> None:
    schedule = Schedule.every_day(
        time(12), time(12), first_day=date(2026, 3, 1), last_day=date(2026, 4, 30)
    )
    assert interval_at(schedule, local("2026-03-29 12:00")) == (
        local("2026-03-01 12:00"),
        local("2026-05-01 12:00"),
    )
    assert not active_at(schedule, local("2026-03-01 11:59"))
    assert not active_at(schedule, local("2026-05-01 12:00"))


def test_a_year_of_curfew_has_one_interval_per_night() -> None:
    table = ScheduleTable([CURFEW])
    nights = table.intervals_between(0, local("2026-01-01 12:00"), local("2027-01-01 12:00"))
    assert len(nights) == 365
    assert sorted({end - start for start, end in nights}) == [11 * HOUR, 12 * HOUR, 13 * HOUR]
    assert all(a_end < b_start for (_, a_end), (b_start, _) in pairwise(nights))


def test_times_far_apart_and_in_any_order_agree_with_the_reference() -> None:
    both = [CURFEW, SUNDAY_NIGHT]
    table = ScheduleTable(both)
    texts = ("2031-06-15 23:00", "2026-03-29 03:00", "2019-12-29 23:30", "2026-03-30 03:00")
    times = [local(text) for text in texts]
    for order in ([0, 1, 2, 3], [2, 0, 3, 1], [1, 3, 2, 0]):
        chosen = np.array([times[i] for i in order])
        for index, schedule in enumerate(both):
            got = table.active(np.full(4, index), chosen).tolist()
            assert got == [reference_active(schedule, t) for t in chosen.tolist()]


def test_a_monitor_moving_through_the_year_with_late_fixes_sees_the_same_intervals() -> None:
    christmas = Schedule.every_day(
        time(19), time(7), exceptions=(dated("2026-12-24 22:00", "2026-12-25 01:00"),)
    )
    schedules = [CURFEW, SUNDAY_NIGHT, christmas, Schedule()]
    table = ScheduleTable(schedules)
    for day in range(0, 366, 2):
        now = local("2026-01-01 21:00") + day * 24 * HOUR
        times = np.array([now, now + 9 * HOUR, now - 47 * HOUR, now - 10 * HOUR])
        for index, schedule in enumerate(schedules):
            starts, ends = table.interval_at(np.full(4, index), times)
            fresh = ScheduleTable([schedule]).interval_at(np.zeros(4, np.intp), times)
            assert (starts.tolist(), ends.tolist()) == (fresh[0].tolist(), fresh[1].tolist())
            assert (starts != -1).tolist() == [
                reference_active(schedule, t) for t in times.tolist()
            ]


def test_arrays_broadcast_and_keep_their_shape() -> None:
    table = ScheduleTable([Schedule(), CURFEW, CURFEW])
    times = np.array([[local("2026-06-10 12:00")], [local("2026-06-10 20:00")]])
    assert table.active(np.array([0, 1, 2]), times).tolist() == [
        [True, False, False],
        [True, True, True],
    ]


def test_empty_tables_and_queries_give_empty_answers() -> None:
    nothing = np.array([], dtype=np.int64)
    assert ScheduleTable([]).active(nothing, nothing).shape == (0,)
    starts, ends = ScheduleTable([CURFEW]).interval_at(nothing, nothing)
    assert starts.shape == ends.shape == (0,)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        ScheduleTable([Schedule.every_day(time(19), time(7), time_zone="Mars/Olympus")])
    with pytest.raises(IndexError):
        ScheduleTable([CURFEW]).active(np.array([-1]), np.array([0]))


# --- properties against the reference ---

ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
YEAR_START, YEAR_END = utc("2026-01-01 00:00"), utc("2027-01-01 00:00")
DST_CHANGES = [
    local(text, ZoneInfo(zone))
    for text, zone in [
        ("2026-03-29 01:00", "Europe/London"),
        ("2026-10-25 01:00", "Europe/London"),
        ("2026-03-08 02:00", "America/New_York"),
        ("2026-11-01 01:00", "America/New_York"),
        ("2026-04-05 02:00", "Australia/Sydney"),
        ("2026-10-04 02:00", "Australia/Sydney"),
    ]
]
MINUTE = 60_000
clock_times = st.one_of(
    st.sampled_from([time(0), time(1), time(1, 30), time(2), time(2, 30), time(3)]),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)
windows = st.builds(WeeklyWindow, st.integers(0, 6), clock_times, clock_times)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Schedule], list[tuple[int, int]]]:
    """Three schedules and queries, with dates, exceptions and times clustered near a few
    anchors (often a DST change) so that they interact, plus some anywhere in the year."""
    anywhere = st.integers(YEAR_START // MINUTE, YEAR_END // MINUTE).map(lambda m: m * MINUTE)
    anchors = draw(st.lists(anywhere | st.sampled_from(DST_CHANGES), min_size=1, max_size=3))
    near = st.builds(
        lambda anchor, minutes: anchor + minutes * MINUTE,
        st.sampled_from(anchors),
        st.integers(-4 * 24 * 60, 4 * 24 * 60),
    )
    moments = near | near | anywhere
    days = moments.map(lambda ms: from_ms(ms).date())
    exceptions = st.builds(
        lambda start, minutes, mode: ScheduleException(
            from_ms(start), from_ms(start + minutes * MINUTE), mode
        ),
        moments,
        st.integers(1, 3 * 24 * 60),
        st.sampled_from(ExceptionMode),
    )
    schedule = st.builds(
        Schedule,
        always=st.sampled_from([False, False, False, True]),
        windows=st.lists(windows, max_size=4).map(tuple),
        first_day=st.none() | days,
        last_day=st.none() | days,
        exceptions=st.lists(exceptions, max_size=3).map(tuple),
        time_zone=st.sampled_from(ZONES),
    )
    table = draw(st.lists(schedule, min_size=3, max_size=3))
    asked = draw(st.lists(st.tuples(st.integers(0, 2), moments), min_size=1, max_size=30))
    return table, asked


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_active_agrees_with_the_reference(
    scenario: tuple[list[Schedule], list[tuple[int, int]]],
) -> None:
    table_schedules, asked = scenario
    table = ScheduleTable(table_schedules)
    index = np.array([i for i, _ in asked])
    times = np.array([t for _, t in asked], dtype=np.int64)
    expected = [reference_active(table_schedules[i], t) for i, t in asked]
    assert table.active(index, times).tolist() == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_interval_at_contains_the_time_and_ends_on_boundaries(
    scenario: tuple[list[Schedule], list[tuple[int, int]]],
) -> None:
    table_schedules, asked = scenario
    table = ScheduleTable(table_schedules)
    index = np.array([i for i, _ in asked])
    times = np.array([t for _, t in asked], dtype=np.int64)
    starts, ends = table.interval_at(index, times)
    on = table.active(index, times)
    assert ((starts == -1) == ~on).all()
    assert ((ends == -1) == ~on).all()
    for i, t, start, end in zip(index[on], times[on], starts[on], ends[on], strict=True):
        schedule = table_schedules[int(i)]
        assert start <= t < end
        inside = [x for x in (start, end - 1) if ALWAYS_START_MS < x < ALWAYS_END_MS - 1]
        outside = [x for x in (start - 1, end) if ALWAYS_START_MS < x < ALWAYS_END_MS]
        assert all(reference_active(schedule, int(x)) for x in inside)
        assert not any(reference_active(schedule, int(x)) for x in outside)
        fresh = ScheduleTable([schedule])  # its own spans: an interval must not depend on them
        assert fresh.active(np.zeros(len(outside), np.intp), np.array(outside, np.int64)).sum() == 0
        again = fresh.interval_at(np.array([0]), np.array([t]))
        assert (int(again[0][0]), int(again[1][0])) == (start, end)
