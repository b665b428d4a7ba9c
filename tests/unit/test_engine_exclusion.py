"""Exclusion zones: when an episode opens and closes, and why one violation is one episode.

Every zone shape here has the same profile along the east axis (see conftest): a fix
`east` metres east of the origin is inside by 200 - east metres. One fix a minute from T0.
"""

from __future__ import annotations

import pytest
from enginekit import (
    REPLY_DELAY,
    SHAPES,
    Run,
    at_minute,
    exclusion,
    fix_at,
    rules_for,
    spans,
    track,
)

from tagwatch.domain.episodes import EpisodeChange, RuleKind
from tagwatch.domain.rules import EngineSettings

FAR = 1000.0  # outside by 800 m
IN_30 = 170.0  # inside by 30 m: confirmed with 10 m accuracy, but not decisive
IN_100 = 100.0  # inside by 100 m: 90 m beyond 10 m accuracy, decisive (>= 75 m)
IN_5 = 195.0  # inside by 5 m: uncertain, leaning violating, with 20 m accuracy

shape_names = pytest.mark.parametrize("shape", sorted(SHAPES))


def run_track(
    shape: str,
    easts: list[float],
    accuracy: float | list[float] = 10.0,
    *,
    warning_buffer_m: float = 0.0,
    dwell_s: float = 300.0,
) -> Run:
    zone = exclusion(SHAPES[shape], warning_buffer_m=warning_buffer_m, dwell_s=dwell_s)
    run = Run(rules_for(zones=[zone]))
    return run.one_by_one(track(easts, accuracy_m=accuracy))


@shape_names
def test_two_confirmed_fixes_open_an_episode_starting_at_the_first(shape: str) -> None:
    run = run_track(shape, [FAR, FAR, IN_30, IN_30, IN_30, FAR, FAR, FAR, FAR])

    [episode] = run.episodes
    assert episode.rule is RuleKind.EXCLUSION
    assert episode.requirement_id == "zone-1"
    assert episode.start == at_minute(2)
    assert episode.confirmed_at == at_minute(3)
    assert episode.end == at_minute(5)
    assert episode.id == f"tag-1/exclusion/zone-1/{at_minute(2).isoformat()}"
    assert episode.deepest_penetration_m == pytest.approx(30.0, abs=0.01)
    assert episode.evidence == (at_minute(2), at_minute(3), at_minute(4))
    [opened] = run.opened
    assert opened.detected_at == at_minute(3) + REPLY_DELAY
    assert opened.episode.end is None
    assert not opened.late
    assert len(run.changes(EpisodeChange.CLOSED)) == 1


@shape_names
def test_the_episode_opens_on_the_second_confirmed_fix_not_the_first(shape: str) -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES[shape])]))
    first, second = track([IN_30, IN_30])

    assert run.feed([first]) == []
    assert run.state.all_episodes() == []
    [event] = run.feed([second])
    assert event.change is EpisodeChange.OPENED
    assert (event.episode.start, event.episode.end) == (at_minute(0), None)


@shape_names
def test_one_decisive_fix_opens_an_episode_at_once(shape: str) -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES[shape])]))
    fixes = track([FAR, IN_100, FAR, FAR, FAR])

    run.feed(fixes[:2])
    [opened] = run.opened
    assert opened.episode.start == opened.episode.confirmed_at == at_minute(1)
    run.one_by_one(fixes[2:])
    assert spans(run.episodes) == [(at_minute(1), at_minute(2))]


@pytest.mark.parametrize(
    ("inside_m", "accuracy_m", "opens"),
    [
        pytest.param(86.0, 10.0, True, id="76 m beyond accuracy is decisive"),
        pytest.param(84.0, 10.0, False, id="74 m beyond accuracy is not"),
        pytest.param(125.0, 40.0, False, id="85 m beyond 40 m accuracy is not: under 6 radii"),
        pytest.param(185.0, 30.0, True, id="over 6 radii and 75 m beyond 30 m is decisive"),
        pytest.param(175.0, 30.0, False, id="under 6 radii of 30 m is not"),
        pytest.param(180.0, 3.0, True, id="deep with good accuracy is decisive"),
    ],
)
def test_a_single_fix_opens_an_episode_only_if_decisive(
    inside_m: float, accuracy_m: float, opens: bool
) -> None:
    easts = [FAR, 200.0 - inside_m, FAR, FAR, FAR]
    run = run_track("circle", easts, [10.0, accuracy_m, 10.0, 10.0, 10.0])
    assert spans(run.episodes) == ([(at_minute(1), at_minute(2))] if opens else [])


def test_the_decisive_margin_is_a_setting() -> None:
    settings = EngineSettings(decisive_margin_m=20.0, decisive_accuracy_multiple=3.0)
    run = Run(rules_for(zones=[exclusion(SHAPES["circle"])], settings=settings))
    # 35 m in with 10 m accuracy: 25 m beyond it, and 3.5 radii.
    run.one_by_one(track([FAR, IN_30 - 5, FAR, FAR, FAR]))
    assert spans(run.episodes) == [(at_minute(1), at_minute(2))]


@shape_names
def test_a_single_confirmed_fix_then_a_compliant_one_is_a_gps_outlier(shape: str) -> None:
    run = run_track(shape, [FAR, IN_30, FAR, FAR, IN_30, FAR, FAR])
    assert run.episodes == []
    assert run.events == []


@shape_names
def test_uncertain_evidence_leaning_in_opens_after_the_dwell_time(shape: str) -> None:
    run = run_track(shape, [FAR] + [IN_5] * 7 + [FAR] * 4, accuracy=20.0)

    [episode] = run.episodes
    assert episode.start == at_minute(1)
    assert episode.confirmed_at == at_minute(6)  # 300 s after the first uncertain fix
    assert episode.end == at_minute(8)
    assert 0.0 < episode.confidence < 1.0
    [opened] = run.opened
    assert opened.detected_at > at_minute(6)


@shape_names
def test_uncertain_evidence_shorter_than_the_dwell_opens_nothing(shape: str) -> None:
    run = run_track(shape, [FAR] + [IN_5] * 5 + [FAR] * 4, accuracy=20.0)
    assert run.episodes == []


def test_a_zone_without_release_time_closes_at_the_first_compliant_fix() -> None:
    zone = exclusion(SHAPES["circle"], release_s=0)
    run = Run(rules_for(zones=[zone])).one_by_one(
        track([FAR, IN_30, IN_30, FAR, IN_30, IN_30, FAR])
    )
    assert spans(run.episodes) == [
        (at_minute(1), at_minute(3)),
        (at_minute(4), at_minute(6)),
    ]


def test_a_zone_without_dwell_time_opens_on_the_first_uncertain_fix_leaning_in() -> None:
    run = run_track("circle", [FAR, IN_5, FAR, FAR, FAR], accuracy=20.0, dwell_s=0.0)
    assert spans(run.episodes) == [(at_minute(1), at_minute(2))]


def test_the_dwell_time_is_per_zone() -> None:
    run = run_track("circle", [FAR, IN_5, IN_5, IN_5, FAR, FAR, FAR], accuracy=20.0, dwell_s=120)
    assert spans(run.episodes) == [(at_minute(1), at_minute(4))]


@shape_names
def test_an_episode_closes_only_after_compliance_lasts_the_release_time(shape: str) -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES[shape])]))
    fixes = track([FAR, IN_30, IN_30, FAR, FAR, FAR, FAR])

    run.one_by_one(fixes[:5])  # compliant at minutes 3 and 4: 60 s, shorter than 120 s
    assert spans(run.episodes) == [(at_minute(1), None)]
    run.one_by_one(fixes[5:6])  # minute 5: compliant for 120 s
    assert spans(run.episodes) == [(at_minute(1), at_minute(3))]
    [closed] = run.changes(EpisodeChange.CLOSED)
    assert closed.episode.end == at_minute(3)
    assert closed.detected_at > at_minute(5)


@shape_names
def test_a_brief_compliant_fix_inside_a_violation_keeps_one_episode(shape: str) -> None:
    run = run_track(shape, [FAR, IN_30, IN_30, IN_30, FAR, IN_30, IN_30, FAR, FAR, FAR, FAR])

    assert spans(run.episodes) == [(at_minute(1), at_minute(7))]
    assert len(run.opened) == 1
    assert len(run.changes(EpisodeChange.CLOSED)) == 1


@shape_names
def test_two_visits_further_apart_than_the_release_are_two_episodes(shape: str) -> None:
    easts = [FAR, IN_30, IN_30, FAR, FAR, FAR, IN_30, IN_30, FAR, FAR, FAR]
    run = run_track(shape, easts)
    assert spans(run.episodes) == [
        (at_minute(1), at_minute(3)),
        (at_minute(6), at_minute(8)),
    ]


def test_the_deepest_penetration_is_the_deepest_fix() -> None:
    run = run_track("circle", [FAR, IN_30, 150.0, IN_100, 150.0, FAR, FAR, FAR])
    [episode] = run.episodes
    assert episode.deepest_penetration_m == pytest.approx(100.0, abs=0.01)
    assert at_minute(3) in episode.evidence
    assert episode.confidence == pytest.approx(1.0)


@shape_names
def test_passing_20m_outside_with_5m_accuracy_opens_nothing(shape: str) -> None:
    easts = [FAR, 600.0, 400.0, 260.0, 220.0, 220.0, 220.0, 260.0, 400.0, 600.0, FAR]
    run = run_track(shape, easts, accuracy=5.0)
    assert run.episodes == []
    assert run.events == []


@shape_names
def test_uncertain_evidence_leaning_out_never_opens(shape: str) -> None:
    # Outside by 5 m with 20 m accuracy, for much longer than the dwell time.
    run = run_track(shape, [FAR] + [205.0] * 12 + [FAR], accuracy=20.0)
    assert run.episodes == []


@shape_names
def test_entering_the_warning_buffer_warns_once_per_approach(shape: str) -> None:
    #        0    1      2      3      4    5    6      7    8
    easts = [FAR, 280.0, 250.0, 280.0, FAR, FAR, 260.0, FAR, FAR]
    run = run_track(shape, easts, warning_buffer_m=100.0)

    assert [(w.fix_time, w.distance_m) for w in run.warnings] == [
        (at_minute(1), pytest.approx(80.0, abs=0.01)),
        (at_minute(6), pytest.approx(60.0, abs=0.01)),
    ]
    assert {(w.zone_id, w.device_id, w.subject_id) for w in run.warnings} == {
        ("zone-1", "tag-1", "subject-1")
    }
    assert not any(w.late for w in run.warnings)
    assert run.episodes == []


def test_no_warning_without_a_warning_buffer() -> None:
    run = run_track("circle", [FAR, 280.0, 250.0, FAR])
    assert run.warnings == []


def test_a_warning_then_a_violation_gives_one_warning_and_one_episode() -> None:
    easts = [FAR, 280.0, 250.0, IN_30, IN_30, 250.0, FAR, FAR, FAR]
    run = run_track("circle", easts, warning_buffer_m=100.0)
    assert [w.fix_time for w in run.warnings] == [at_minute(1)]
    assert spans(run.episodes) == [(at_minute(3), at_minute(5))]


def test_each_zone_has_its_own_episodes() -> None:
    west = exclusion(SHAPES["circle"], zone_id="west")
    east = exclusion(SHAPES["polygon"], zone_id="east")
    run = Run(rules_for(zones=[west, east]))
    run.one_by_one(track([FAR, IN_30, IN_30, FAR, FAR, FAR]))
    assert sorted((e.requirement_id, e.start, e.end) for e in run.episodes) == [
        ("east", at_minute(1), at_minute(3)),
        ("west", at_minute(1), at_minute(3)),
    ]


def test_fixes_of_a_device_nobody_monitors_are_ignored() -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES["circle"])]))
    run.feed([fix_at(at_minute(m), IN_100, device="stranger") for m in range(3)])
    assert run.events == []
    assert run.episodes == []


def test_an_evidence_gap_longer_than_allowed_breaks_a_run_of_confirmations() -> None:
    run = Run(rules_for(zones=[exclusion(SHAPES["circle"])]))
    # Two confirmed fixes 11 minutes apart (max evidence gap 600 s): not consecutive.
    run.one_by_one([fix_at(at_minute(0), IN_30), fix_at(at_minute(11), IN_30)])
    assert run.episodes == []
    run.one_by_one([fix_at(at_minute(12), IN_30)])
    assert spans(run.episodes) == [(at_minute(11), None)]


@shape_names
def test_one_confirmed_fix_among_three_leaning_in_opens_a_short_visit(shape: str) -> None:
    # Three fixes whose centres are inside, one of them confirmed: a real short visit.
    easts = [FAR, IN_5, IN_30, IN_5, FAR, FAR, FAR]
    run = run_track(shape, easts, [10.0, 20.0, 10.0, 20.0, 10.0, 10.0, 10.0])
    assert spans(run.episodes) == [(at_minute(1), at_minute(4))]


@shape_names
def test_one_confirmed_fix_and_one_leaning_in_is_not_enough(shape: str) -> None:
    easts = [FAR, IN_5, IN_30, FAR, FAR, FAR]
    run = run_track(shape, easts, [10.0, 20.0, 10.0, 10.0, 10.0, 10.0])
    assert run.episodes == []
