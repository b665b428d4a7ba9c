"""Attendance: be at a place for an appointment, from its start (plus grace) to its end.

The appointment is 14:00-15:00 on Monday 2 November 2026 (GMT) at a 100 m circle at the
origin, with the default 10 minutes' grace; the tag reports every 5 minutes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from enginekit import (
    Run,
    appointment,
    circle,
    fixes_every,
    local,
    rules_for,
    spans,
)

from tagwatch.domain.episodes import AttendanceOutcomeKind, Episode, RuleKind
from tagwatch.domain.positions import Fix

PLACE = circle(radius_m=100.0)
THERE = 0.0
AWAY = 2000.0
FIVE = timedelta(minutes=5)
APPOINTMENT = appointment(PLACE, local("2026-11-02 14:00"), local("2026-11-02 15:00"))
ATTENDED = AttendanceOutcomeKind.ATTENDED
MISSED = AttendanceOutcomeKind.MISSED
CUT_SHORT = AttendanceOutcomeKind.CUT_SHORT


def legs(*pieces: tuple[str, str, float]) -> list[Fix]:
    """Fixes every 5 minutes: (first, last, where) for each leg of the afternoon."""
    return [fix for first, last, east in pieces for fix in fixes_every(first, last, east, FIVE)]


def attend(fixes: list[Fix]) -> Run:
    return Run(rules_for(appointments=[APPOINTMENT])).one_by_one(fixes)


def attendance_episodes(run: Run) -> list[Episode]:
    return [e for e in run.episodes if e.rule is RuleKind.ATTENDANCE]


def test_being_there_throughout_is_attended_without_an_episode() -> None:
    run = attend(legs(("2026-11-02 13:55", "2026-11-02 15:05", THERE)))

    [outcome] = run.outcomes
    assert outcome.outcome is ATTENDED
    assert (outcome.appointment_id, outcome.device_id, outcome.subject_id) == (
        "a-1",
        "tag-1",
        "subject-1",
    )
    assert outcome.arrived_at is not None
    assert outcome.arrived_at <= local("2026-11-02 14:10")
    assert outcome.left_at is None
    assert run.episodes == []


def test_arriving_within_the_grace_period_is_attended() -> None:
    run = attend(
        legs(
            ("2026-11-02 13:50", "2026-11-02 14:05", AWAY),
            ("2026-11-02 14:10", "2026-11-02 15:05", THERE),
        )
    )
    assert [o.outcome for o in run.outcomes] == [ATTENDED]
    assert run.episodes == []


def test_never_being_there_is_missed_with_exactly_one_episode() -> None:
    run = attend(legs(("2026-11-02 13:55", "2026-11-02 15:05", AWAY)))

    [outcome] = run.outcomes
    assert outcome.outcome is MISSED
    assert (outcome.arrived_at, outcome.left_at) == (None, None)
    [episode] = attendance_episodes(run)
    assert episode.requirement_id == "a-1"
    # Absent from the end of the grace period to the end of the appointment.
    assert (episode.start, episode.end) == (local("2026-11-02 14:10"), local("2026-11-02 15:00"))
    assert len(run.opened) == 1


def test_arriving_then_leaving_early_is_cut_short_with_one_episode() -> None:
    run = attend(
        legs(
            ("2026-11-02 13:55", "2026-11-02 14:30", THERE),
            ("2026-11-02 14:35", "2026-11-02 15:05", AWAY),
        )
    )

    [outcome] = run.outcomes
    assert outcome.outcome is CUT_SHORT
    assert outcome.left_at == local("2026-11-02 14:30")
    assert spans(attendance_episodes(run)) == [
        (local("2026-11-02 14:35"), local("2026-11-02 15:00"))
    ]


def test_leaving_and_coming_back_twice_is_still_one_episode() -> None:
    run = attend(
        legs(
            ("2026-11-02 13:55", "2026-11-02 14:20", THERE),
            ("2026-11-02 14:25", "2026-11-02 14:30", AWAY),
            ("2026-11-02 14:35", "2026-11-02 14:40", THERE),
            ("2026-11-02 14:45", "2026-11-02 14:50", AWAY),
            ("2026-11-02 14:55", "2026-11-02 15:05", THERE),
        )
    )

    assert [o.outcome for o in run.outcomes] == [CUT_SHORT]
    [episode] = attendance_episodes(run)
    assert episode.start == local("2026-11-02 14:25")
    assert episode.end is not None
    assert local("2026-11-02 14:45") < episode.end <= local("2026-11-02 15:00")
    assert len(run.opened) == 1


def test_no_outcome_is_emitted_before_the_appointment_ends() -> None:
    run = attend(legs(("2026-11-02 13:55", "2026-11-02 14:55", THERE)))
    assert run.outcomes == []

    run.feed([], now=local("2026-11-02 14:59:59"))
    assert run.outcomes == []

    run.feed([], now=local("2026-11-02 15:00"))
    [outcome] = run.outcomes
    assert outcome.outcome is ATTENDED
    assert outcome.detected_at == local("2026-11-02 15:00")


def test_the_outcome_is_emitted_once() -> None:
    run = attend(legs(("2026-11-02 13:55", "2026-11-02 15:05", AWAY)))
    run.feed([], now=local("2026-11-02 15:10"))
    run.feed([], now=local("2026-11-02 15:20"))
    assert [o.outcome for o in run.outcomes] == [MISSED]


@pytest.mark.parametrize(
    ("where", "expected"),
    [(THERE, ATTENDED), (AWAY, MISSED)],
    ids=["there", "away"],
)
def test_a_buffered_upload_after_the_end_gives_the_same_outcome(
    where: float, expected: AttendanceOutcomeKind
) -> None:
    fixes = legs(("2026-11-02 13:55", "2026-11-02 15:05", where))
    in_order = attend(fixes)
    batch = Run(rules_for(appointments=[APPOINTMENT]))
    batch.feed(fixes, now=local("2026-11-02 15:10"))

    assert [o.outcome for o in batch.outcomes] == [expected]
    assert attendance_episodes(batch) == attendance_episodes(in_order)


def test_each_appointment_has_its_own_outcome() -> None:
    later = appointment(
        PLACE, local("2026-11-02 16:00"), local("2026-11-02 17:00"), appointment_id="a-2"
    )
    run = Run(rules_for(appointments=[APPOINTMENT, later]))
    run.one_by_one(
        legs(
            ("2026-11-02 13:55", "2026-11-02 15:05", THERE),
            ("2026-11-02 15:10", "2026-11-02 17:05", AWAY),
        )
    )
    assert [(o.appointment_id, o.outcome) for o in run.outcomes] == [
        ("a-1", ATTENDED),
        ("a-2", MISSED),
    ]
    assert [e.requirement_id for e in attendance_episodes(run)] == ["a-2"]
