"""Scoring alerts against ground truth: detection rate, false alerts, detection delay.

Pure functions of plain records; engine episodes and naive-baseline alerts both become
`ScoredAlert`s first.

Only the rules the truth can speak about are scored: exclusion, inclusion, curfew and
strap tamper (the simulator's truth covers these), plus any other rule that appears in the
given truth. Alerts of other rules (low battery, no GPS, ...) are neither true nor false
here, because nothing says whether they should have been raised.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from tagwatch.domain.episodes import RuleKind
from tagwatch.sim.model import TruthViolation

SCORED_RULES = frozenset(
    {RuleKind.EXCLUSION, RuleKind.INCLUSION, RuleKind.CURFEW, RuleKind.STRAP_TAMPER}
)


class AlertLike(Protocol):
    @property
    def device_id(self) -> str: ...
    @property
    def rule(self) -> RuleKind: ...
    @property
    def requirement_id(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def detected_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class ScoredAlert:
    """One alert a person would have acted on: what it claimed, and when it was raised."""

    device_id: str
    rule: RuleKind
    requirement_id: str
    start: datetime  # when the alert says the violation began
    detected_at: datetime  # when the alert was raised

    @classmethod
    def of(cls, alert: AlertLike) -> ScoredAlert:
        return cls(
            alert.device_id, alert.rule, alert.requirement_id, alert.start, alert.detected_at
        )


@dataclass(frozen=True, slots=True)
class QualityScore:
    """NaN where a figure is undefined: no violations long enough, or none detected."""

    detection_rate: float
    false_alerts_per_subject_day: float
    median_delay_s: float
    p95_delay_s: float
    detected: int  # violations of at least the minimum duration that were detected
    violations: int  # violations of at least the minimum duration
    false_alerts: int

    def as_dict(self) -> dict[str, float | None]:
        """The headline figures, JSON-ready (None for NaN)."""

        def tidy(value: float, digits: int) -> float | None:
            return None if math.isnan(value) else round(value, digits)

        return {
            "detection_rate": tidy(self.detection_rate, 4),
            "false_alerts_per_subject_day": tidy(self.false_alerts_per_subject_day, 4),
            "median_delay_s": tidy(self.median_delay_s, 1),
            "p95_delay_s": tidy(self.p95_delay_s, 1),
        }


Key = tuple[str, RuleKind, str]


def match(
    alerts: Sequence[ScoredAlert], truth: Sequence[TruthViolation], tolerance_s: float = 120.0
) -> dict[int, int]:
    """truth index -> index of its first matching alert, for every detected violation.

    An alert matches a violation of the same device, rule and requirement when the alert's
    start lies within the violation grown by `tolerance_s` on both sides. Violations are
    served in order of start; each takes its earliest-raised matching alert not already
    taken, so one alert never detects two violations.
    """
    tolerance = timedelta(seconds=tolerance_s)
    by_key: dict[Key, list[int]] = defaultdict(list)
    for i, alert in enumerate(alerts):
        by_key[(alert.device_id, alert.rule, alert.requirement_id)].append(i)
    for indices in by_key.values():
        indices.sort(key=lambda i: (alerts[i].detected_at, alerts[i].start))
    taken: set[int] = set()
    first: dict[int, int] = {}
    for t in sorted(range(len(truth)), key=lambda t: truth[t].start):
        violation = truth[t]
        lo, hi = violation.start - tolerance, violation.end + tolerance
        for i in by_key.get((violation.device_id, violation.rule, violation.requirement_id), []):
            if i not in taken and lo <= alerts[i].start <= hi:
                taken.add(i)
                first[t] = i
                break
    return first


def score(
    alerts: Sequence[ScoredAlert],
    truth: Sequence[TruthViolation],
    subject_days: float,
    min_duration_s: float = 120.0,
    tolerance_s: float = 120.0,
) -> QualityScore:
    """Detection rate over violations lasting at least `min_duration_s`; every alert that is
    not the first match of some violation is false; delays over all detected violations.

    Shorter violations count neither for nor against detection, but an alert for one is a
    true alert and its delay is measured.
    """
    rules = SCORED_RULES | {v.rule for v in truth}
    scored = [a for a in alerts if a.rule in rules]
    first = match(scored, truth, tolerance_s)
    long_enough = [t for t, v in enumerate(truth) if v.duration_s >= min_duration_s]
    detected = sum(1 for t in long_enough if t in first)
    delays = [
        max((scored[i].detected_at - truth[t].start).total_seconds(), 0.0) for t, i in first.items()
    ]
    false_alerts = len(scored) - len(first)
    return QualityScore(
        detection_rate=detected / len(long_enough) if long_enough else math.nan,
        false_alerts_per_subject_day=false_alerts / subject_days if subject_days else math.nan,
        median_delay_s=float(np.median(delays)) if delays else math.nan,
        p95_delay_s=float(np.percentile(delays, 95)) if delays else math.nan,
        detected=detected,
        violations=len(long_enough),
        false_alerts=false_alerts,
    )
