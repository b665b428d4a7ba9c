"""The naive baseline: every fix a point, judged alone, in arrival order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from tagwatch.bench.naive import NaiveAlert, judge_naively
from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import RuleBook, SubjectRules
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Circle, Curfew, Zone, ZoneKind
from tagwatch.sim.places import TOWNS, point_to_wgs84, to_bng

TAG = "tag-1"
T0 = datetime(2026, 10, 22, 10, 0, tzinfo=UTC)  # 11:00 in London
CENTRE = to_bng([TOWNS[0].lon], [TOWNS[0].lat])


def at(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """(lon, lat) this far from St Albans town centre."""
    return point_to_wgs84(float(CENTRE[0][0]) + east_m, float(CENTRE[1][0]) + north_m)


def fix(minute: float, east_m: float, *, arrives_s: float = 2.0, **kwargs: object) -> Fix:
    lon, lat = at(east_m)
    when = T0 + timedelta(minutes=minute)
    options: dict[str, object] = {"accuracy_m": 10.0, **kwargs}
    return Fix(TAG, when, lat, lon, received_at=when + timedelta(seconds=arrives_s), **options)  # type: ignore[arg-type]


def book(*, zone_schedule: Schedule | None = None, curfew: bool = False) -> RuleBook:
    lon, lat = at(0.0)
    zone = Zone(
        "ez",
        "s1",
        ZoneKind.EXCLUSION,
        Circle(lon, lat, 200.0),
        schedule=zone_schedule or Schedule(),
    )
    curfews: tuple[Curfew, ...] = ()
    if curfew:
        home_lon, home_lat = at(5000.0)
        curfews = (
            Curfew(
                "cur",
                "s1",
                Circle(home_lon, home_lat, 120.0),
                Schedule.every_day(time(19), time(7)),
            ),
        )
    return RuleBook((SubjectRules("s1", (TAG,), zones=(zone,), curfews=curfews),))


def exclusion_alerts(fixes: list[Fix], rules: RuleBook | None = None) -> list[NaiveAlert]:
    alerts = judge_naively(rules or book(), fixes)
    return [a for a in alerts if a.rule is RuleKind.EXCLUSION]


def test_entering_raises_one_alert_at_the_first_fix_inside() -> None:
    fixes = [fix(0, 1000), fix(1, 100), fix(2, 50), fix(3, 1000)]
    alerts = exclusion_alerts(fixes)
    assert [(a.start, a.detected_at) for a in alerts] == [(fixes[1].fix_time, fixes[1].received_at)]
    assert alerts[0].requirement_id == "ez"
    assert alerts[0].subject_id == "s1"


def test_every_re_entry_is_another_alert() -> None:
    fixes = [fix(0, 100), fix(1, 300), fix(2, 100), fix(3, 300), fix(4, 150)]
    assert len(exclusion_alerts(fixes)) == 3


def test_accuracy_is_ignored() -> None:
    """A point 10 m outside with a 500 m circle is outside; 10 m inside with 500 m, inside."""
    assert exclusion_alerts([fix(0, 210, accuracy_m=500.0)]) == []
    assert len(exclusion_alerts([fix(0, 190, accuracy_m=500.0)])) == 1


def test_invalid_fixes_are_ignored() -> None:
    fixes = [fix(0, 1000), fix(1, 0, valid=False, satellites=0), fix(2, 1000)]
    assert exclusion_alerts(fixes) == []


def test_fixes_are_judged_in_arrival_order_not_fix_time_order() -> None:
    """Inside at 0 and 2, outside at 1 (arriving late), inside at 3. In arrival order the
    late fix flips the state after minute 2 had arrived, so minute 3 re-enters; in fix-time
    order minute 2 would have been the re-entry."""
    late_outside = fix(1, 1000, arrives_s=600.0)
    fixes = [fix(0, 50), fix(2, 50), late_outside, fix(3, 50, arrives_s=700.0)]
    alerts = exclusion_alerts(fixes)
    assert [(a.start, a.detected_at) for a in alerts] == [
        (fixes[0].fix_time, fixes[0].received_at),
        (fixes[3].fix_time, fixes[3].received_at),
    ]


def test_a_late_fix_inside_is_an_alert_dated_when_it_was_measured() -> None:
    late = fix(1, 50, arrives_s=600.0)
    fixes = [fix(0, 1000), fix(2, 1000), late, fix(12, 1000)]
    alerts = exclusion_alerts(fixes)
    assert [(a.start, a.detected_at) for a in alerts] == [(late.fix_time, late.received_at)]


def test_a_duplicate_upload_raises_the_alert_again() -> None:
    inside = fix(0, 50)
    again = replace(inside, received_at=T0 + timedelta(minutes=5))
    assert len(exclusion_alerts([inside, fix(1, 1000), again])) == 2


def test_a_scheduled_zone_is_judged_only_while_it_applies() -> None:
    afternoon = Schedule.every_day(time(14), time(16))  # London; T0 is 11:00
    rules = book(zone_schedule=afternoon)
    assert exclusion_alerts([fix(0, 50), fix(1, 50)], rules) == []
    later = [fix(180, 50), fix(181, 50)]  # 14:00 and 14:01 in London
    assert [a.start for a in exclusion_alerts(later, rules)] == [later[0].fix_time]


@pytest.mark.parametrize(
    ("positions", "alerts"),
    [
        ([5000, 5000, 5000], 0),  # at home all evening
        ([0, 5000, 5000], 1),  # the first fix of the curfew is away
        ([5000, 0, 0, 5000, 0], 2),  # leaves, comes back, leaves again
    ],
)
def test_curfew_alerts_on_the_first_fix_away_after_being_home(
    positions: list[float], alerts: int
) -> None:
    curfew_start = 8 * 60  # 19:00 in London is 8 hours after T0 (11:00 BST)
    fixes = [fix(curfew_start + i, east) for i, east in enumerate(positions)]
    before = [fix(curfew_start - 30, 0)]  # away before the curfew: no alert
    found = [
        a for a in judge_naively(book(curfew=True), before + fixes) if a.rule is RuleKind.CURFEW
    ]
    assert len(found) == alerts


def test_strap_tamper_alarms_are_passed_on() -> None:
    event = DeviceEvent(
        TAG, T0, DeviceEventKind.STRAP_TAMPER, received_at=T0 + timedelta(seconds=3)
    )
    restored = DeviceEvent(TAG, T0 + timedelta(minutes=5), DeviceEventKind.STRAP_RESTORED)
    alerts = judge_naively(book(), [], [event, restored])
    assert [(a.rule, a.start, a.detected_at) for a in alerts] == [
        (RuleKind.STRAP_TAMPER, event.time, event.received_at)
    ]
