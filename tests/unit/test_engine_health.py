"""Device health: tamper, battery, and silence (no GPS, no communication).

Tamper and battery episodes are folded from device events in event-time order; no-GPS and
no-comms are rules about silence, judged from the device's latest valid fix, latest record
and latest contact. HealthPolicy defaults: low battery below 20 %, recovered at 30 %, no GPS
after 15 minutes, no communication after 30 minutes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from enginekit import (
    T0,
    Run,
    at_minute,
    device_event,
    fix_at,
    no_position,
    rules_for,
    spans,
)

from tagwatch.domain.episodes import Episode, EpisodeChange, RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import HealthPolicy

K = DeviceEventKind
SECOND = timedelta(seconds=1)


def health_run(**policy: float) -> Run:
    return Run(rules_for(health=HealthPolicy(**policy)))


def of_rule(run: Run, rule: RuleKind) -> list[Episode]:
    return [e for e in run.episodes if e.rule is rule]


def received(fix: Fix, at: datetime) -> Fix:
    return replace(fix, received_at=at)


# --- tamper ---


@pytest.mark.parametrize(
    ("opens", "closes", "rule"),
    [
        (K.STRAP_TAMPER, K.STRAP_RESTORED, RuleKind.STRAP_TAMPER),
        (K.CASE_TAMPER, K.CASE_RESTORED, RuleKind.CASE_TAMPER),
        (K.GPS_JAMMING_SUSPECTED, K.GPS_JAMMING_CLEARED, RuleKind.GPS_JAMMING),
    ],
    ids=["strap", "case", "jamming"],
)
def test_a_tamper_and_its_restore_make_one_episode_from_the_event_times(
    opens: DeviceEventKind, closes: DeviceEventKind, rule: RuleKind
) -> None:
    run = health_run()
    [opened] = run.feed(device_events=[device_event(opens, at_minute(3))])
    assert opened.change is EpisodeChange.OPENED
    assert (opened.episode.rule, opened.episode.start, opened.episode.end) == (
        rule,
        at_minute(3),
        None,
    )
    assert not opened.late

    [closed] = run.feed(device_events=[device_event(closes, at_minute(9))])
    assert closed.change is EpisodeChange.CLOSED

    [episode] = run.episodes
    assert (episode.rule, episode.start, episode.end) == (rule, at_minute(3), at_minute(9))
    assert episode.id == f"tag-1/{rule.value}//{at_minute(3).isoformat()}"
    assert (episode.device_id, episode.subject_id) == ("tag-1", "subject-1")


def test_a_tamper_without_a_restore_stays_open() -> None:
    run = health_run()
    run.feed(device_events=[device_event(K.STRAP_TAMPER, at_minute(3))])
    run.feed([fix_at(at_minute(m), 0.0) for m in range(4, 10)])
    assert spans(run.episodes) == [(at_minute(3), None)]


def test_a_repeated_tamper_report_does_not_open_a_second_episode() -> None:
    run = health_run()
    run.feed(device_events=[device_event(K.STRAP_TAMPER, at_minute(m)) for m in (3, 4, 5)])
    run.feed(device_events=[device_event(K.STRAP_RESTORED, at_minute(9))])
    assert spans(run.episodes) == [(at_minute(3), at_minute(9))]


def test_tamper_and_restore_arriving_restore_first_give_the_same_episode() -> None:
    run = health_run()
    run.feed(device_events=[device_event(K.STRAP_RESTORED, at_minute(9))], now=at_minute(20))
    run.feed(device_events=[device_event(K.STRAP_TAMPER, at_minute(3))], now=at_minute(20))
    assert spans(of_rule(run, RuleKind.STRAP_TAMPER)) == [(at_minute(3), at_minute(9))]


def test_strap_and_case_tamper_are_separate_episodes() -> None:
    run = health_run()
    run.feed(
        device_events=[
            device_event(K.STRAP_TAMPER, at_minute(1)),
            device_event(K.CASE_TAMPER, at_minute(2)),
            device_event(K.STRAP_RESTORED, at_minute(5)),
        ]
    )
    assert [(e.rule, e.start, e.end) for e in run.episodes] == [
        (RuleKind.CASE_TAMPER, at_minute(2), None),
        (RuleKind.STRAP_TAMPER, at_minute(1), at_minute(5)),
    ]


def test_a_restore_without_a_tamper_opens_nothing() -> None:
    run = health_run()
    run.feed(device_events=[device_event(K.STRAP_RESTORED, at_minute(1))])
    assert run.episodes == []


# --- battery ---


def battery(minute: float, percent: float) -> DeviceEvent:
    return device_event(K.BATTERY_LEVEL, at_minute(minute), percent)


@pytest.mark.parametrize(
    ("percent", "low"),
    [(19.9, True), (20.0, False), (5.0, True), (0.0, True), (25.0, False)],
    ids=["19.9 % is low", "20 % is not", "5 % is low", "0 % is low", "25 % is not"],
)
def test_battery_below_the_low_threshold_opens_low_battery(percent: float, low: bool) -> None:
    run = health_run()
    run.feed(device_events=[battery(0, 80.0), battery(10, percent)])
    assert spans(of_rule(run, RuleKind.LOW_BATTERY)) == ([(at_minute(10), None)] if low else [])


def test_low_battery_closes_only_once_recharged_to_the_recovery_level() -> None:
    run = health_run()
    run.feed(device_events=[battery(0, 50.0), battery(10, 15.0)])
    run.feed(device_events=[battery(20, 25.0), battery(25, 29.9)])  # above low, below recovered
    assert spans(run.episodes) == [(at_minute(10), None)]

    run.feed(device_events=[battery(30, 30.0)])
    assert spans(run.episodes) == [(at_minute(10), at_minute(30))]


def test_a_second_drop_after_recovery_is_a_second_low_battery_episode() -> None:
    run = health_run()
    run.feed(device_events=[battery(0, 10.0), battery(10, 90.0), battery(20, 12.0)])
    assert spans(run.episodes) == [(at_minute(0), at_minute(10)), (at_minute(20), None)]


def test_the_battery_thresholds_come_from_the_health_policy() -> None:
    run = health_run(low_battery_pct=50.0, battery_recovered_pct=60.0)
    run.feed(device_events=[battery(0, 45.0), battery(5, 55.0), battery(10, 60.0)])
    assert spans(run.episodes) == [(at_minute(0), at_minute(10))]


# --- no GPS: talking, but without a valid position ---


def test_no_valid_position_for_15_minutes_opens_no_gps_from_the_last_valid_fix() -> None:
    run = health_run()
    run.feed([fix_at(T0, 0.0)])
    for minute in range(1, 15):
        run.feed([no_position(at_minute(minute))])
    assert run.episodes == []

    [opened] = run.feed([no_position(at_minute(15))])

    assert opened.change is EpisodeChange.OPENED
    assert (opened.episode.rule, opened.episode.start, opened.episode.end) == (
        RuleKind.NO_GPS,
        T0,
        None,
    )


def test_a_valid_fix_closes_no_gps() -> None:
    run = health_run()
    run.one_by_one([fix_at(T0, 0.0)] + [no_position(at_minute(m)) for m in range(1, 21)])
    run.feed([fix_at(at_minute(25), 0.0)])
    assert [(e.rule, e.start, e.end) for e in run.episodes] == [
        (RuleKind.NO_GPS, T0, at_minute(25))
    ]
    assert len(run.changes(EpisodeChange.CLOSED)) == 1


def test_invalid_fixes_for_less_than_the_threshold_open_nothing() -> None:
    run = health_run()
    run.one_by_one(
        [fix_at(T0, 0.0)]
        + [no_position(at_minute(m)) for m in range(1, 15)]
        + [fix_at(at_minute(15) - SECOND, 0.0)]
        + [no_position(at_minute(m)) for m in range(16, 29)]
    )
    assert run.episodes == []


def test_a_buffered_upload_with_20_minutes_without_gps_opens_no_gps() -> None:
    fixes = [fix_at(T0, 0.0)] + [no_position(at_minute(m)) for m in range(1, 21)]
    fixes.append(fix_at(at_minute(25), 0.0))
    in_order = health_run().one_by_one(fixes)
    batch = health_run()
    batch.feed(fixes, now=at_minute(25) + SECOND)

    assert spans(in_order.episodes) == [(T0, at_minute(25))]
    assert batch.episodes == in_order.episodes


def test_a_late_valid_fix_that_bridges_the_gap_retracts_no_gps() -> None:
    run = health_run()
    run.one_by_one([fix_at(T0, 0.0)] + [no_position(at_minute(m)) for m in range(1, 16)])
    assert spans(run.episodes) == [(T0, None)]

    # The tag had a valid fix at 12:10 after all; it arrives late. Longest gap: 10 minutes.
    run.feed([fix_at(at_minute(10), 0.0)], now=at_minute(16))

    assert run.episodes == []


def test_no_gps_found_on_time_is_not_flagged_late() -> None:
    run = health_run()
    run.one_by_one([fix_at(T0, 0.0)] + [no_position(at_minute(m)) for m in range(1, 16)])
    [opened] = run.opened
    assert opened.detected_at == at_minute(15) + timedelta(seconds=5)
    assert not opened.late


# --- no communication: silence, judged by the clock ---


def test_silence_for_30_minutes_opens_no_comms_from_the_last_contact() -> None:
    run = health_run()
    run.feed([received(fix_at(T0, 0.0), T0 + 2 * SECOND)], now=T0 + 3 * SECOND)

    assert run.feed([], now=at_minute(30) + SECOND) == []  # 29 min 59 s of silence
    [opened] = run.feed([], now=at_minute(30) + 2 * SECOND)

    assert opened.change is EpisodeChange.OPENED
    assert (opened.episode.rule, opened.episode.start, opened.episode.end) == (
        RuleKind.NO_COMMS,
        T0 + 2 * SECOND,
        None,
    )
    assert run.feed([], now=at_minute(40)) == []  # still silent: nothing new to say


def test_data_arriving_after_silence_closes_no_comms_when_it_arrives() -> None:
    run = health_run()
    run.feed([received(fix_at(T0, 0.0), T0 + 2 * SECOND)], now=T0 + 3 * SECOND)
    run.feed([], now=at_minute(40))

    run.feed([received(fix_at(at_minute(44), 0.0), at_minute(45))], now=at_minute(45) + SECOND)

    assert [(e.rule, e.start, e.end) for e in run.episodes] == [
        (RuleKind.NO_COMMS, T0 + 2 * SECOND, at_minute(45))
    ]


def test_device_events_count_as_contact() -> None:
    run = health_run()
    run.feed([fix_at(T0, 0.0)])
    for minute in (20, 40, 60):
        run.feed(device_events=[device_event(K.HEARTBEAT, at_minute(minute))])
    run.feed([], now=at_minute(80))
    assert of_rule(run, RuleKind.NO_COMMS) == []
    # Talking without positions is no GPS, though.
    assert spans(of_rule(run, RuleKind.NO_GPS)) == [(T0, None)]


def test_no_comms_after_is_a_health_policy() -> None:
    run = health_run(no_comms_after_s=600.0)
    run.feed([fix_at(T0, 0.0)], now=T0)
    run.feed([], now=at_minute(10))
    assert spans(run.episodes) == [(T0, None)]


def test_a_device_never_heard_from_is_not_silent() -> None:
    run = health_run()
    run.feed([], now=at_minute(600))
    assert run.events == []


def test_no_comms_found_on_time_by_the_clock_is_not_flagged_late() -> None:
    run = health_run()
    run.feed([fix_at(T0, 0.0)], now=T0)
    [opened] = run.feed([], now=at_minute(30))
    assert opened.episode.rule is RuleKind.NO_COMMS
    assert not opened.late
