"""Late data: tags buffer out of coverage and upload late, out of order, and twice.

A violation found from late data is still raised, marked late, with its start in the past;
a fix older than the allowed lateness is flagged for review and not judged.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from enginekit import (
    SHAPES,
    T0,
    Run,
    at_minute,
    exclusion,
    fix_at,
    rules_for,
    spans,
    track,
)

from tagwatch.domain.episodes import EpisodeChange, RuleKind
from tagwatch.domain.rules import EngineSettings, HealthPolicy

FAR = 1000.0
IN_30 = 170.0
HOUR = timedelta(hours=1)


def zone_run(settings: EngineSettings | None = None, health: HealthPolicy | None = None) -> Run:
    return Run(rules_for(zones=[exclusion(SHAPES["circle"])], settings=settings, health=health))


def test_a_violation_found_in_a_late_batch_opens_late_with_its_start_in_the_past() -> None:
    run = zone_run()
    now = at_minute(60)
    # Buffered: fixes from 30 minutes ago, uploaded now.
    run.feed(track([IN_30] * 5, start=at_minute(30)), now=now)

    [opened] = run.opened
    assert opened.late
    assert opened.detected_at == now
    assert opened.episode.start == at_minute(30)
    assert opened.episode.confirmed_at == at_minute(31)
    assert opened.episode.end is None


def test_a_violation_reported_promptly_is_not_late() -> None:
    run = zone_run()
    run.feed(track([IN_30] * 2), now=at_minute(1) + timedelta(seconds=30))
    [opened] = run.opened
    assert not opened.late


@pytest.mark.parametrize(
    ("delay_s", "late"), [(299, False), (301, True)], ids=["within 300 s", "after 300 s"]
)
def test_late_means_confirmed_more_than_late_after_s_before_detection(
    delay_s: int, late: bool
) -> None:
    run = zone_run()
    run.feed(track([IN_30] * 2), now=at_minute(1) + timedelta(seconds=delay_s))
    assert [e.late for e in run.opened] == [late]


def test_late_fixes_older_than_the_newest_evaluated_one_are_still_judged() -> None:
    run = zone_run()
    # The tag reported 12:40-12:50 (all clear), then uploads what it buffered at 12:30-12:35.
    run.one_by_one(track([FAR] * 11, start=at_minute(40)))
    run.feed(track([IN_30] * 6, start=at_minute(30)), now=at_minute(51))

    [opened] = run.opened
    assert opened.late
    assert (opened.episode.start, opened.episode.end) == (at_minute(30), at_minute(40))
    assert spans(run.episodes) == [(at_minute(30), at_minute(40))]


def test_a_late_fix_inside_an_open_episode_moves_its_start_and_replaces_it() -> None:
    run = zone_run()
    run.one_by_one(track([IN_30] * 4, start=at_minute(10)))
    [first] = run.opened
    assert first.episode.start == at_minute(10)

    run.feed(track([IN_30] * 3, start=at_minute(7)), now=at_minute(14))

    assert spans(run.episodes) == [(at_minute(7), None)]
    [_, second] = run.opened
    assert second.episode.start == at_minute(7)
    assert second.replaces == (first.episode.id,)
    assert run.changes(EpisodeChange.RETRACTED) == []


def test_a_late_compliant_fix_that_breaks_a_run_retracts_the_episode() -> None:
    run = zone_run()
    fixes = track([FAR, IN_30, FAR, IN_30, FAR, FAR, FAR])
    # Arrives without minute 2: minutes 1 and 3 look consecutive and confirm an episode.
    run.one_by_one([f for i, f in enumerate(fixes) if i != 2])
    assert len(run.opened) == 1

    run.feed([fixes[2]], now=at_minute(10))

    assert run.episodes == []
    [retracted] = run.changes(EpisodeChange.RETRACTED)
    assert retracted.episode.start == at_minute(1)


def test_the_same_batch_uploaded_twice_changes_nothing_the_second_time() -> None:
    run = zone_run()
    fixes = track([FAR, IN_30, IN_30, IN_30, FAR, FAR, FAR])
    run.feed(fixes, now=at_minute(10))
    episodes = run.episodes

    assert run.feed(fixes, now=at_minute(11)) == []
    assert run.episodes == episodes
    assert spans(episodes) == [(at_minute(1), at_minute(4))]


def test_a_fix_older_than_the_allowed_lateness_is_flagged_and_not_judged() -> None:
    run = zone_run()
    now = T0 + 49 * HOUR  # default allowed lateness: 48 h
    stale = track([IN_30] * 4)

    events = run.feed(stale, now=now)

    assert [(e.device_id, e.fix_time, e.detected_at) for e in run.beyond_lateness] == [
        ("tag-1", fix.fix_time, now) for fix in stale
    ]
    assert len(events) == 4
    assert run.episodes == []


def test_only_the_fixes_beyond_the_allowed_lateness_are_left_unjudged() -> None:
    run = zone_run(EngineSettings(allowed_lateness_s=3600.0))
    now = at_minute(90)
    # Minutes 20-39 are too old; minutes 40-45 are within the hour and violate.
    run.feed(track([IN_30] * 26, start=at_minute(20)), now=now)

    assert [e.fix_time for e in run.beyond_lateness] == [at_minute(m) for m in range(20, 30)]
    assert spans(run.episodes) == [(at_minute(30), None)]


def test_a_fix_beyond_the_lateness_does_not_disturb_an_episode_already_judged() -> None:
    quiet_tag = HealthPolicy(no_comms_after_s=10 * 3600.0)
    run = zone_run(EngineSettings(allowed_lateness_s=3600.0), quiet_tag)
    run.one_by_one(track([FAR, IN_30, IN_30, IN_30, FAR, FAR, FAR]))
    before = run.episodes
    assert spans(before) == [(at_minute(1), at_minute(4))]

    # 61 minutes later: minute 2 is beyond the hour's lateness, the episode's end is not.
    events = run.feed([fix_at(at_minute(2), FAR)], now=at_minute(3) + HOUR)

    assert events == run.beyond_lateness
    assert [e.fix_time for e in events] == [at_minute(2)]
    assert [e for e in run.episodes if e.rule is RuleKind.EXCLUSION] == before


def test_episodes_that_ended_before_the_lateness_horizon_are_no_longer_kept() -> None:
    run = zone_run(EngineSettings(allowed_lateness_s=3600.0))
    run.one_by_one(track([FAR, IN_30, IN_30, IN_30, FAR, FAR, FAR]))
    run.feed([], now=at_minute(4) + HOUR + timedelta(seconds=1))
    assert [e for e in run.episodes if e.rule is RuleKind.EXCLUSION] == []
    assert run.changes(EpisodeChange.RETRACTED) == []


def test_a_tag_uploading_only_stale_fixes_is_not_silent() -> None:
    run = zone_run(EngineSettings(allowed_lateness_s=3600.0))
    run.feed([fix_at(T0, FAR)], now=T0)
    run.feed([], now=at_minute(40))  # silent for 40 minutes: no communication
    [silent] = [e for e in run.episodes if e.rule is RuleKind.NO_COMMS]
    assert (silent.start, silent.end) == (T0, None)

    # Back in coverage at 14:00: uploads a buffered fix from 12:30, beyond the hour.
    run.feed([fix_at(at_minute(30), FAR)], now=at_minute(120))

    assert [e.fix_time for e in run.beyond_lateness] == [at_minute(30)]
    [silent] = [e for e in run.episodes if e.rule is RuleKind.NO_COMMS]
    assert (silent.start, silent.end) == (T0, at_minute(120))
