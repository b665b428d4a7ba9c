"""Inclusion zones and curfews: be inside, and be at home during the curfew hours.

The curfew address is a 100 m circle at the origin; "away" is 2 km east of it. The curfew
runs 19:00-07:00 Europe/London every day. Times are written as London wall-clock readings.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from enginekit import (
    Run,
    circle,
    curfew,
    device_event,
    fix_at,
    fixes_every,
    inclusion,
    local,
    no_position,
    rules_for,
    spans,
    square,
)

from tagwatch.domain.episodes import EpisodeChange, RuleKind
from tagwatch.domain.positions import DeviceEventKind, Fix
from tagwatch.domain.rules import EngineSettings
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Shape
from tagwatch.engine import CompiledRules

HOME = circle(radius_m=100.0)
AT_HOME = 0.0
AWAY = 2000.0
NIGHTLY = Schedule.every_day(time(19), time(7))
BEACON = "hmu-1"


def curfew_rules(beacon_device_id: str | None = None) -> CompiledRules:
    return rules_for(curfews=[curfew(HOME, NIGHTLY, beacon_device_id=beacon_device_id)])


# --- inclusion zones ---


@pytest.mark.parametrize(
    "shape", [circle(radius_m=500.0), square(500.0)], ids=["circle", "polygon"]
)
def test_leaving_an_inclusion_zone_opens_an_episode_and_coming_back_closes_it(
    shape: Shape,
) -> None:
    run = Run(rules_for(zones=[inclusion(shape)]))
    run.one_by_one(
        fixes_every("2026-11-02 12:00", "2026-11-02 12:02", 100.0)
        + fixes_every("2026-11-02 12:03", "2026-11-02 12:06", 700.0)
        + fixes_every("2026-11-02 12:07", "2026-11-02 12:10", 100.0)
    )
    [episode] = run.episodes
    assert episode.rule is RuleKind.INCLUSION
    assert (episode.start, episode.end) == (local("2026-11-02 12:03"), local("2026-11-02 12:07"))
    assert episode.deepest_penetration_m == pytest.approx(200.0, abs=0.01)


def test_staying_inside_an_inclusion_zone_near_its_edge_opens_nothing() -> None:
    # Inside by 10 m with 30 m accuracy: uncertain, leaning compliant, for an hour.
    run = Run(rules_for(zones=[inclusion(circle(radius_m=500.0))]))
    run.feed(
        [
            fix_at(local("2026-11-02 12:00") + timedelta(minutes=m), 490.0, accuracy_m=30.0)
            for m in range(60)
        ]
    )
    assert run.episodes == []


# --- curfews ---


def test_not_home_during_the_curfew_opens_a_curfew_episode() -> None:
    run = Run(curfew_rules())
    run.one_by_one(fixes_every("2026-11-02 20:00", "2026-11-02 20:10", AWAY))

    [episode] = run.episodes
    assert episode.rule is RuleKind.CURFEW
    assert episode.requirement_id == "curfew-1"
    assert (episode.start, episode.end) == (local("2026-11-02 20:00"), None)
    assert len(run.opened) == 1


def test_home_all_night_opens_nothing() -> None:
    run = Run(curfew_rules())
    run.feed(fixes_every("2026-11-02 18:00", "2026-11-03 08:00", AT_HOME, timedelta(minutes=5)))
    assert run.episodes == []
    assert run.events == []


def test_away_outside_the_curfew_hours_opens_nothing() -> None:
    run = Run(curfew_rules())
    run.one_by_one(fixes_every("2026-11-02 07:00", "2026-11-02 18:59", AWAY, timedelta(minutes=7)))
    assert run.episodes == []


def test_not_home_when_the_curfew_starts_is_a_violation_from_the_window_start() -> None:
    run = Run(curfew_rules())
    run.one_by_one(fixes_every("2026-11-02 18:47", "2026-11-02 19:12", AWAY, timedelta(minutes=5)))
    # The fixes are at 18:57 and 19:02: away before and after 19:00.
    assert spans(run.episodes) == [(local("2026-11-02 19:00"), None)]


def test_a_first_fix_long_after_the_curfew_start_is_where_the_episode_starts() -> None:
    run = Run(curfew_rules())
    # Away at 18:45, then nothing until 19:20: the gap exceeds the 600 s evidence gap.
    run.one_by_one(
        [
            fix_at(local("2026-11-02 18:45"), AWAY),
            *fixes_every("2026-11-02 19:20", "2026-11-02 19:25", AWAY),
        ]
    )
    assert spans(run.episodes) == [(local("2026-11-02 19:20"), None)]


def test_home_just_before_the_curfew_then_away_starts_at_the_first_away_fix() -> None:
    run = Run(curfew_rules())
    run.one_by_one(
        [
            fix_at(local("2026-11-02 18:57"), AT_HOME),
            fix_at(local("2026-11-02 19:02"), AWAY),
            fix_at(local("2026-11-02 19:07"), AWAY),
        ]
    )
    # At home at 18:57, so the absence is proven from 19:02 only.
    assert spans(run.episodes) == [(local("2026-11-02 19:02"), None)]


def test_an_episode_open_at_the_end_of_the_curfew_closes_at_the_window_end() -> None:
    run = Run(curfew_rules())
    run.one_by_one(fixes_every("2026-11-03 06:40", "2026-11-03 07:20", AWAY, timedelta(minutes=5)))
    assert spans(run.episodes) == [(local("2026-11-03 06:40"), local("2026-11-03 07:00"))]
    assert len(run.changes(EpisodeChange.CLOSED)) == 1


def test_coming_home_just_before_the_curfew_ends_closes_when_they_came_home() -> None:
    run = Run(curfew_rules())
    run.one_by_one(
        [
            *fixes_every("2026-11-03 06:40", "2026-11-03 06:57", AWAY),
            *fixes_every("2026-11-03 06:58", "2026-11-03 06:59", AT_HOME),
            fix_at(local("2026-11-03 07:05"), AT_HOME),
        ]
    )
    # Home at 06:58, but the 120 s release had not run out when the curfew ended.
    assert spans(run.episodes) == [(local("2026-11-03 06:40"), local("2026-11-03 06:58"))]


def test_the_window_end_closes_an_episode_even_when_no_fix_follows() -> None:
    run = Run(curfew_rules())
    run.one_by_one(fixes_every("2026-11-03 06:40", "2026-11-03 06:55", AWAY, timedelta(minutes=5)))
    assert spans(run.episodes) == [(local("2026-11-03 06:40"), None)]

    run.feed([], now=local("2026-11-03 07:01"))

    assert spans(run.episodes) == [(local("2026-11-03 06:40"), local("2026-11-03 07:00"))]
    [closed] = run.changes(EpisodeChange.CLOSED)
    assert closed.detected_at == local("2026-11-03 07:01")


def test_coming_home_during_the_curfew_closes_after_the_release() -> None:
    run = Run(curfew_rules())
    run.one_by_one(
        fixes_every("2026-11-02 21:00", "2026-11-02 21:10", AWAY)
        + fixes_every("2026-11-02 21:11", "2026-11-02 21:20", AT_HOME)
    )
    assert spans(run.episodes) == [(local("2026-11-02 21:00"), local("2026-11-02 21:11"))]


@pytest.mark.parametrize("reporter", ["tag-1", BEACON], ids=["reported by the tag", "by the unit"])
def test_home_beacon_in_range_counts_as_home_whatever_gps_says(reporter: str) -> None:
    run = Run(curfew_rules(beacon_device_id=BEACON))
    run.feed(
        device_events=[
            device_event(
                DeviceEventKind.BEACON_IN_RANGE, local("2026-11-02 19:30"), device=reporter
            )
        ]
    )
    run.one_by_one(fixes_every("2026-11-02 19:35", "2026-11-02 20:00", AWAY))
    assert run.episodes == []


def test_home_beacon_in_range_counts_as_home_when_the_tag_has_no_gps() -> None:
    run = Run(curfew_rules(beacon_device_id=BEACON))
    run.feed([fix_at(local("2026-11-02 19:25"), AWAY)], now=local("2026-11-02 19:25:05"))
    run.feed(
        device_events=[device_event(DeviceEventKind.BEACON_IN_RANGE, local("2026-11-02 19:30"))]
    )
    run.one_by_one([no_position(local(f"2026-11-02 19:3{m}")) for m in (1, 2, 3)])
    # Away at 19:25 (one decisive fix); the beacon says home from 19:30, and the fixes
    # without a position from 19:31 are home for the 120 s release: it ends at 19:31.
    assert spans(run.episodes) == [(local("2026-11-02 19:25"), local("2026-11-02 19:31"))]


def test_beacon_out_of_range_lets_gps_judge_again() -> None:
    run = Run(curfew_rules(beacon_device_id=BEACON))
    run.feed(
        device_events=[
            device_event(DeviceEventKind.BEACON_IN_RANGE, local("2026-11-02 19:30"), device=BEACON),
            device_event(
                DeviceEventKind.BEACON_OUT_OF_RANGE, local("2026-11-02 20:00:30"), device=BEACON
            ),
        ]
    )
    run.one_by_one(fixes_every("2026-11-02 19:35", "2026-11-02 20:10", AWAY))
    assert spans(run.episodes) == [(local("2026-11-02 20:01"), None)]


def test_a_late_beacon_report_retracts_an_episode_gps_alone_had_opened() -> None:
    run = Run(curfew_rules(beacon_device_id=BEACON))
    run.one_by_one(fixes_every("2026-11-02 19:35", "2026-11-02 19:45", AWAY))
    [opened] = run.opened
    assert opened.episode.start == local("2026-11-02 19:35")

    run.feed(
        device_events=[
            device_event(DeviceEventKind.BEACON_IN_RANGE, local("2026-11-02 19:30"), device=BEACON)
        ],
        now=local("2026-11-02 19:50"),
    )

    assert run.episodes == []
    [retracted] = run.changes(EpisodeChange.RETRACTED)
    assert retracted.episode.id == opened.episode.id


def test_a_beacon_of_another_household_does_not_count() -> None:
    run = Run(curfew_rules(beacon_device_id=BEACON))
    run.feed(
        device_events=[
            device_event(DeviceEventKind.BEACON_IN_RANGE, local("2026-11-02 19:30"), device="hmu-9")
        ]
    )
    run.one_by_one(fixes_every("2026-11-02 19:35", "2026-11-02 19:40", AWAY))
    assert spans(run.episodes) == [(local("2026-11-02 19:35"), None)]


# --- the nights the clocks change ---
# 29 March 2026: 01:00 GMT becomes 02:00 BST, so 01:30 never happens and the night is 11 h.
# 25 October 2026: 02:00 BST becomes 01:00 GMT, so 01:30 happens twice and the night is 13 h.


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "absent_at",
    [
        pytest.param(utc("2026-03-29 00:30"), id="spring 00:30 GMT"),
        pytest.param(utc("2026-03-29 01:30"), id="spring 02:30 BST (01:30 UTC)"),
        pytest.param(utc("2026-10-25 00:30"), id="autumn first 01:30 (BST)"),
        pytest.param(utc("2026-10-25 01:30"), id="autumn second 01:30 (GMT)"),
    ],
)
def test_an_absence_in_the_small_hours_of_a_dst_night_is_within_the_curfew(
    absent_at: datetime,
) -> None:
    run = Run(curfew_rules())
    run.one_by_one([fix_at(absent_at + timedelta(minutes=m), AWAY) for m in range(3)])
    assert spans(run.episodes) == [(absent_at, None)]


@pytest.mark.parametrize(
    ("night_start_utc", "night_end_utc"),
    [
        pytest.param(utc("2026-03-28 19:00"), utc("2026-03-29 06:00"), id="spring: 11 h night"),
        pytest.param(utc("2026-10-24 18:00"), utc("2026-10-25 07:00"), id="autumn: 13 h night"),
    ],
)
def test_a_dst_night_begins_at_19_00_and_ends_at_07_00_local(
    night_start_utc: datetime, night_end_utc: datetime
) -> None:
    run = Run(curfew_rules())
    minutes = [-13, -8, -3, 2, 7]
    run.one_by_one([fix_at(night_start_utc + timedelta(minutes=m), AWAY) for m in minutes])
    assert spans(run.episodes) == [(night_start_utc, None)]

    run.one_by_one([fix_at(night_end_utc + timedelta(minutes=m), AWAY) for m in minutes])
    assert spans(run.episodes) == [(night_start_utc, night_end_utc)]


def test_away_just_after_the_spring_curfew_end_is_not_a_violation() -> None:
    # 06:30 UTC on 29 March is 07:30 BST: the curfew is over, though it would not be in GMT.
    run = Run(curfew_rules())
    run.one_by_one([fix_at(utc("2026-03-29 06:30") + timedelta(minutes=m), AWAY) for m in range(5)])
    assert run.episodes == []


def test_away_in_the_extra_autumn_hour_is_a_violation() -> None:
    # 06:30 UTC on 25 October is 06:30 GMT: still curfew (in BST it would be 07:30).
    run = Run(curfew_rules())
    run.one_by_one([fix_at(utc("2026-10-25 06:30") + timedelta(minutes=m), AWAY) for m in range(3)])
    assert spans(run.episodes) == [(utc("2026-10-25 06:30"), None)]


# --- how much a fix must say before it confirms an absence ---


def _two_fixes_outside_home_by(radii: float, accuracy_m: float = 40.0) -> list[Fix]:
    east = 100.0 + radii * accuracy_m  # the address is a 100 m circle
    return [
        fix_at(local("2026-11-02 23:00") + timedelta(minutes=m), east, accuracy_m=accuracy_m)
        for m in range(2)
    ]


def test_a_fix_confirms_a_curfew_absence_only_two_radii_out() -> None:
    """Two fixes 1.5 accuracy radii outside the address lean towards an absence but do not
    confirm it (an indoor fix at home is often that far off); 2.5 radii out they do."""
    near = Run(curfew_rules()).one_by_one(_two_fixes_outside_home_by(1.5))
    assert near.episodes == []
    far = Run(curfew_rules()).one_by_one(_two_fixes_outside_home_by(2.5))
    [episode] = far.episodes
    assert (episode.rule, episode.start) == (RuleKind.CURFEW, local("2026-11-02 23:00"))


def test_the_curfew_confirmation_is_a_setting_and_other_rules_keep_one_radius() -> None:
    settings = EngineSettings(curfew_confirm_radii=1.0)
    one_radius = Run(rules_for(curfews=[curfew(HOME, NIGHTLY)], settings=settings))
    assert len(one_radius.one_by_one(_two_fixes_outside_home_by(1.5)).episodes) == 1
    # An inclusion zone of the same shape confirms at one radius with the default settings.
    zone = Run(rules_for(zones=[inclusion(HOME)])).one_by_one(_two_fixes_outside_home_by(1.5))
    assert [e.rule for e in zone.episodes] == [RuleKind.INCLUSION]


def test_leaning_evidence_that_persists_still_opens_a_curfew_episode() -> None:
    """Outside by 1.5 radii for longer than the dwell time: an absence after all."""
    run = Run(curfew_rules())
    run.one_by_one(
        fix_at(local("2026-11-02 23:00") + timedelta(minutes=m), 160.0, accuracy_m=40.0)
        for m in range(30)
    )
    [episode] = run.episodes
    assert episode.start == local("2026-11-02 23:00")
