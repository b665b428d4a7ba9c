"""The naive baseline: what open-source trackers do.

Every valid fix is judged alone, as a point (its accuracy ignored), in the order fixes
arrive. Per device and requirement, while the requirement's schedule applies at the fix
time: an exclusion alert when a fix is inside after the previous one was outside (or is the
first in the window); a curfew or inclusion alert when a fix is outside after being inside
(or is the first in the window). Strap-tamper alarms from the device are passed on as
alerts, as trackers forward device alarms. Home beacons are not used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import RuleBook
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Shape, ZoneKind
from tagwatch.sim.model import Simulation
from tagwatch.sim.places import to_bng
from tagwatch.sim.shapes import shape_to_bng
from tagwatch.sim.timetable import IntervalArray, active_intervals


@dataclass(frozen=True, slots=True)
class NaiveAlert:
    device_id: str
    subject_id: str
    rule: RuleKind
    requirement_id: str
    start: datetime  # fix time of the fix that triggered it
    detected_at: datetime  # when that fix arrived


@dataclass(frozen=True, slots=True)
class _Check:
    rule: RuleKind
    requirement_id: str
    region: shapely.Geometry  # metres, EPSG:27700
    windows: IntervalArray  # when it applies, epoch seconds

    @property
    def violated_inside(self) -> bool:
        return self.rule is RuleKind.EXCLUSION


def naive_alerts(sim: Simulation) -> list[NaiveAlert]:
    return judge_naively(sim.rule_book, sim.fixes, sim.device_events)


def judge_naively(
    book: RuleBook, fixes: Sequence[Fix], device_events: Sequence[DeviceEvent] = ()
) -> list[NaiveAlert]:
    valid = [fix for fix in fixes if fix.valid]
    alerts: list[NaiveAlert] = []
    if valid:
        first = min(fix.fix_time for fix in valid) - timedelta(days=1)
        last = max(fix.fix_time for fix in valid) + timedelta(days=1)
        checks, subject_of = _checks(book, first, last)
        by_device: dict[str, list[Fix]] = defaultdict(list)
        for fix in valid:
            by_device[fix.device_id].append(fix)  # stays in arrival order
        for device_id, device_fixes in by_device.items():
            if device_id in checks:
                alerts.extend(
                    _judge_device(device_id, subject_of[device_id], device_fixes, checks[device_id])
                )
    subjects = {d: rules.subject_id for rules in book.subjects for d in rules.device_ids}
    for event in device_events:
        if event.kind is DeviceEventKind.STRAP_TAMPER and event.device_id in subjects:
            alerts.append(
                NaiveAlert(
                    event.device_id,
                    subjects[event.device_id],
                    RuleKind.STRAP_TAMPER,
                    "",
                    event.time,
                    event.received_at or event.time,
                )
            )
    return sorted(alerts, key=lambda a: a.detected_at)


def _checks(
    book: RuleBook, first: datetime, last: datetime
) -> tuple[dict[str, list[_Check]], dict[str, str]]:
    def check(rule: RuleKind, requirement_id: str, shape: Shape, schedule: Schedule) -> _Check:
        region = shape_to_bng(shape)
        shapely.prepare(region)
        return _Check(rule, requirement_id, region, active_intervals(schedule, first, last))

    checks: dict[str, list[_Check]] = {}
    subject_of: dict[str, str] = {}
    for rules in book.subjects:
        found = [
            check(
                RuleKind.EXCLUSION if zone.kind is ZoneKind.EXCLUSION else RuleKind.INCLUSION,
                zone.id,
                zone.shape,
                zone.schedule,
            )
            for zone in rules.zones
        ]
        found += [
            check(RuleKind.CURFEW, curfew.id, curfew.address, curfew.schedule)
            for curfew in rules.curfews
        ]
        for device_id in rules.device_ids:
            checks[device_id] = found
            subject_of[device_id] = rules.subject_id
    return checks, subject_of


def _judge_device(
    device_id: str, subject_id: str, fixes: list[Fix], checks: list[_Check]
) -> list[NaiveAlert]:
    x, y = to_bng([f.lon for f in fixes], [f.lat for f in fixes])
    t = np.array([f.fix_time.timestamp() for f in fixes])
    alerts = []
    for check in checks:
        inside: npt.NDArray[np.bool_] = shapely.contains_xy(check.region, x, y)
        window = np.searchsorted(check.windows[:, 0], t, side="right") - 1
        active = (window >= 0) & (t < check.windows[np.clip(window, 0, None), 1])
        current_window = -1
        previous: bool | None = None  # inside at the previous fix in this window
        for i in np.flatnonzero(active).tolist():
            here = bool(inside[i])
            if window[i] != current_window:
                current_window, previous = int(window[i]), None
            bad = here if check.violated_inside else not here
            if bad and previous is not here:
                alerts.append(
                    NaiveAlert(
                        device_id,
                        subject_id,
                        check.rule,
                        check.requirement_id,
                        fixes[i].fix_time,
                        fixes[i].received_at or fixes[i].fix_time,
                    )
                )
            previous = here
    return alerts
