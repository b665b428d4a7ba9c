"""Scoring alerts against ground truth."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.bench.scoring import QualityScore, ScoredAlert, match, score
from tagwatch.domain.episodes import RuleKind
from tagwatch.sim.model import TruthViolation

T0 = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
EXCL = RuleKind.EXCLUSION


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def truth(
    start_s: float, end_s: float, *, device: str = "d1", rule: RuleKind = EXCL, req: str = "z1"
) -> TruthViolation:
    return TruthViolation("s1", device, rule, req, at(start_s), at(end_s))


def alert(
    start_s: float,
    detected_s: float | None = None,
    *,
    device: str = "d1",
    rule: RuleKind = EXCL,
    req: str = "z1",
) -> ScoredAlert:
    detected = start_s if detected_s is None else detected_s
    return ScoredAlert(device, rule, req, at(start_s), at(detected))


def test_an_alert_ten_seconds_in_is_detected_with_a_ten_second_delay() -> None:
    result = score([alert(10)], [truth(0, 600)], subject_days=1)
    assert result.detection_rate == 1.0
    assert result.median_delay_s == 10.0
    assert result.p95_delay_s == 10.0
    assert (result.detected, result.violations, result.false_alerts) == (1, 1, 0)


def test_the_delay_runs_to_when_the_alert_was_raised_not_its_start() -> None:
    result = score([alert(5, detected_s=300)], [truth(0, 600)], subject_days=1)
    assert result.median_delay_s == 300.0


def test_an_alert_raised_before_the_truth_began_has_no_negative_delay() -> None:
    result = score([alert(-60)], [truth(0, 600)], subject_days=1)
    assert result.median_delay_s == 0.0


def test_a_duplicate_alert_for_the_same_violation_is_false() -> None:
    result = score([alert(10, 20), alert(30, 40)], [truth(0, 600)], subject_days=2)
    assert result.detected == 1
    assert result.false_alerts == 1
    assert result.false_alerts_per_subject_day == 0.5
    assert result.median_delay_s == 20.0  # the first one raised counts


def test_an_alert_on_a_near_miss_is_false() -> None:
    result = score([alert(5000)], [truth(0, 600)], subject_days=1)
    assert result.detection_rate == 0.0
    assert result.false_alerts == 1


def test_a_missed_ninety_second_violation_does_not_lower_the_detection_rate() -> None:
    violations = [truth(0, 600), truth(10_000, 10_090)]
    result = score([alert(30)], violations, subject_days=1)
    assert result.detection_rate == 1.0
    assert result.violations == 1


def test_a_detected_short_violation_is_a_true_alert_with_a_delay() -> None:
    result = score([alert(10_050)], [truth(10_000, 10_090)], subject_days=1)
    assert result.false_alerts == 0
    assert result.median_delay_s == 50.0
    assert math.isnan(result.detection_rate)  # no violation long enough to score


@pytest.mark.parametrize(
    ("start_s", "matches"), [(-120, True), (-121, False), (720, True), (721, False)]
)
def test_alerts_match_within_the_tolerance_around_the_violation(
    start_s: float, matches: bool
) -> None:
    result = score([alert(start_s)], [truth(0, 600)], subject_days=1, tolerance_s=120)
    assert result.detected == int(matches)
    assert result.false_alerts == int(not matches)


def test_alerts_match_only_the_same_device_rule_and_requirement() -> None:
    violations = [truth(0, 600)]
    for wrong in (alert(10, device="d2"), alert(10, rule=RuleKind.CURFEW), alert(10, req="z2")):
        result = score([wrong], violations, subject_days=1)
        assert (result.detected, result.false_alerts) == (0, 1)


def test_one_alert_cannot_detect_two_violations() -> None:
    violations = [truth(0, 300), truth(350, 700)]
    assert match([alert(320)], violations) == {0: 0}
    result = score([alert(320)], violations, subject_days=1)
    assert (result.detected, result.violations, result.false_alerts) == (1, 2, 0)


def test_alerts_of_rules_without_truth_are_not_scored() -> None:
    result = score([alert(10, rule=RuleKind.LOW_BATTERY)], [truth(0, 600)], subject_days=1)
    assert result.false_alerts == 0
    assert result.detected == 0


def test_the_summary_has_exactly_the_headline_figures() -> None:
    result = score([alert(10), alert(700_000)], [truth(0, 600)], subject_days=4)
    assert result.as_dict() == {
        "detection_rate": 1.0,
        "false_alerts_per_subject_day": 0.25,
        "median_delay_s": 10.0,
        "p95_delay_s": 10.0,
    }


def test_undefined_figures_are_none_in_the_summary() -> None:
    result = score([], [], subject_days=1)
    assert isinstance(result, QualityScore)
    assert result.as_dict() == {
        "detection_rate": None,
        "false_alerts_per_subject_day": 0.0,
        "median_delay_s": None,
        "p95_delay_s": None,
    }


def test_p95_delay_over_many_violations() -> None:
    violations = [truth(i * 1000, i * 1000 + 600) for i in range(20)]
    alerts = [alert(i * 1000 + i) for i in range(20)]  # delays 0..19 s
    result = score(alerts, violations, subject_days=1)
    assert result.median_delay_s == 9.5
    assert result.p95_delay_s == pytest.approx(18.05)
