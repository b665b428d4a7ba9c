"""Device health from device events: tamper, low battery, suspected GPS jamming.

Events are few (a handful per device per hour), so each device's episodes are derived by
folding its events in time order: the same events in any arrival order give the same
episodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import DeviceEventKind
from tagwatch.domain.rules import HealthPolicy

OPENS: dict[DeviceEventKind, RuleKind] = {
    DeviceEventKind.STRAP_TAMPER: RuleKind.STRAP_TAMPER,
    DeviceEventKind.CASE_TAMPER: RuleKind.CASE_TAMPER,
    DeviceEventKind.GPS_JAMMING_SUSPECTED: RuleKind.GPS_JAMMING,
}
CLOSES: dict[DeviceEventKind, RuleKind] = {
    DeviceEventKind.STRAP_RESTORED: RuleKind.STRAP_TAMPER,
    DeviceEventKind.CASE_RESTORED: RuleKind.CASE_TAMPER,
    DeviceEventKind.GPS_JAMMING_CLEARED: RuleKind.GPS_JAMMING,
}


@dataclass(frozen=True, slots=True, order=True)
class HealthRecord:
    time_ms: int
    kind: DeviceEventKind
    value: float | None = None


@dataclass(frozen=True, slots=True)
class HealthSpan:
    rule: RuleKind
    start: int
    end: int | None


def health_spans(records: Iterable[HealthRecord], policy: HealthPolicy) -> list[HealthSpan]:
    """Episodes from `records` sorted by time (ties: restore before tamper, by kind name)."""
    open_since: dict[RuleKind, int] = {}
    spans: list[HealthSpan] = []

    def start(rule: RuleKind, time_ms: int) -> None:
        open_since.setdefault(rule, time_ms)

    def stop(rule: RuleKind, time_ms: int) -> None:
        began = open_since.pop(rule, None)
        if began is not None:
            spans.append(HealthSpan(rule, began, time_ms))

    for record in records:
        if record.kind in OPENS:
            start(OPENS[record.kind], record.time_ms)
        elif record.kind in CLOSES:
            stop(CLOSES[record.kind], record.time_ms)
        elif record.kind is DeviceEventKind.BATTERY_LEVEL and record.value is not None:
            if record.value < policy.low_battery_pct:
                start(RuleKind.LOW_BATTERY, record.time_ms)
            elif record.value >= policy.battery_recovered_pct:
                stop(RuleKind.LOW_BATTERY, record.time_ms)
    spans.extend(HealthSpan(rule, began, None) for rule, began in open_since.items())
    return sorted(spans, key=lambda span: (span.start, span.rule.value))
