"""Shared helpers for the engine tests: places in metres, tracks of fixes, and engine runs.

Places are given in grid metres east and north of a point in St Albans (Hertfordshire) and
handed to the engine in WGS84, through the same projector the engine measures with, so a
fix placed 170 m east of a 200 m circle's centre is inside it by 30 m, to the micrometre.

Test modules import these helpers with `from enginekit import ...` (tests/unit is on the
import path because it is not a package; not from a conftest, whose module name every
test folder's conftest shares).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import settings

from tagwatch.domain.episodes import (
    ApproachWarning,
    AttendanceOutcome,
    EngineEvent,
    Episode,
    EpisodeChange,
    EpisodeEvent,
    FixBeyondLateness,
)
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import EngineSettings, HealthPolicy, RuleBook, SubjectRules
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import (
    Appointment,
    Area,
    Circle,
    Corridor,
    Curfew,
    LonLat,
    Shape,
    Zone,
    ZoneKind,
)
from tagwatch.engine import CompiledRules, EngineState, compile_rules, evaluate
from tagwatch.engine.projection import Projector

ST_ALBANS: LonLat = (-0.336, 51.752)
PROJECTOR = Projector()
_OX, _OY = PROJECTOR.point_to_xy(*ST_ALBANS)
LONDON = ZoneInfo("Europe/London")

TAG = "tag-1"
SUBJECT = "subject-1"
# A Monday in November (GMT, so local time is UTC): far from both clock changes.
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
STEP = timedelta(seconds=60)
REPLY_DELAY = timedelta(seconds=5)  # in-order runs evaluate each fix 5 s after its time

# Zone shapes of the same profile along the east axis: a fix `east` metres east of the
# origin (0 <= east) is inside by 200 - east metres, and outside by east - 200 beyond.
RADIUS_M = 200.0


def lonlat(east_m: float, north_m: float = 0.0) -> LonLat:
    """WGS84 of the point `east_m` east and `north_m` north of St Albans on the grid."""
    lon, lat = PROJECTOR.to_lonlat(_OX + east_m, _OY + north_m)
    return float(lon), float(lat)


def circle(east_m: float = 0.0, north_m: float = 0.0, radius_m: float = RADIUS_M) -> Circle:
    lon, lat = lonlat(east_m, north_m)
    return Circle(lon, lat, radius_m)


def square(half_m: float = RADIUS_M, east_m: float = 0.0, north_m: float = 0.0) -> Area:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    ring = tuple(lonlat(east_m + sx * half_m, north_m + sy * half_m) for sx, sy in corners)
    return Area(((ring,),))


def north_south_road(half_width_m: float = RADIUS_M, length_m: float = 5000.0) -> Corridor:
    """A corridor along the north axis through the origin."""
    return Corridor((lonlat(0.0, -length_m / 2), lonlat(0.0, length_m / 2)), half_width_m)


SHAPES: dict[str, Shape] = {
    "circle": circle(),
    "polygon": square(),
    "corridor": north_south_road(),
}


def local(text: str) -> datetime:
    """An aware instant from a Europe/London wall-clock reading, e.g. "2026-11-02 19:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


def fix_at(
    time: datetime,
    east_m: float,
    north_m: float = 0.0,
    accuracy_m: float = 10.0,
    *,
    valid: bool = True,
    device: str = TAG,
) -> Fix:
    lon, lat = lonlat(east_m, north_m)
    return Fix(device, time, lat, lon, accuracy_m, valid=valid)


def no_position(time: datetime, device: str = TAG) -> Fix:
    """A record from a device that talks but has no satellites."""
    return Fix(device, time, 0.0, 0.0, 0.0, valid=False)


def track(
    easts: Sequence[float],
    start: datetime = T0,
    accuracy_m: float | Sequence[float] = 10.0,
    step: timedelta = STEP,
    device: str = TAG,
) -> list[Fix]:
    """One fix per `step` from `start`, at the given distances east of the origin."""
    accuracies = (
        [float(accuracy_m)] * len(easts)
        if isinstance(accuracy_m, int | float)
        else list(accuracy_m)
    )
    return [
        fix_at(start + i * step, east, accuracy_m=acc, device=device)
        for i, (east, acc) in enumerate(zip(easts, accuracies, strict=True))
    ]


def fixes_every(
    first: str,
    last: str,
    east_m: float,
    step: timedelta = STEP,
    accuracy_m: float = 10.0,
    device: str = TAG,
) -> list[Fix]:
    """A fix every `step` from London time `first` to `last` inclusive, `east_m` east."""
    start, end = local(first), local(last)
    count = (end - start) // step + 1
    return [
        fix_at(start + i * step, east_m, accuracy_m=accuracy_m, device=device) for i in range(count)
    ]


def at_minute(n: float, start: datetime = T0) -> datetime:
    return start + timedelta(minutes=n)


def device_event(
    kind: DeviceEventKind, time: datetime, value: float | None = None, device: str = TAG
) -> DeviceEvent:
    return DeviceEvent(device, time, kind, value)


def exclusion(shape: Shape, zone_id: str = "zone-1", **kwargs: object) -> Zone:
    return Zone(zone_id, SUBJECT, ZoneKind.EXCLUSION, shape, **kwargs)


def inclusion(shape: Shape, zone_id: str = "zone-1", **kwargs: object) -> Zone:
    return Zone(zone_id, SUBJECT, ZoneKind.INCLUSION, shape, **kwargs)


def curfew(
    address: Shape,
    schedule: Schedule,
    curfew_id: str = "curfew-1",
    **kwargs: object,
) -> Curfew:
    return Curfew(curfew_id, SUBJECT, address, schedule, **kwargs)


def appointment(
    place: Shape,
    start: datetime,
    end: datetime,
    grace_s: float = 600.0,
    appointment_id: str = "a-1",
) -> Appointment:
    return Appointment(appointment_id, SUBJECT, place, start, end, grace_s=grace_s)


def rules_for(
    *,
    zones: Iterable[Zone] = (),
    curfews: Iterable[Curfew] = (),
    appointments: Iterable[Appointment] = (),
    health: HealthPolicy | None = None,
    settings: EngineSettings | None = None,
    devices: Sequence[str] = (TAG,),
) -> CompiledRules:
    subject = SubjectRules(
        SUBJECT,
        tuple(devices),
        zones=tuple(zones),
        curfews=tuple(curfews),
        appointments=tuple(appointments),
        health=health or HealthPolicy(),
    )
    return compile_rules(RuleBook((subject,), settings or EngineSettings()))


@dataclass
class Run:
    """An engine and everything it said, fed batch by batch."""

    rules: CompiledRules
    state: EngineState = field(init=False)
    events: list[EngineEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = EngineState.empty(self.rules)

    def feed(
        self,
        fixes: Sequence[Fix] = (),
        device_events: Sequence[DeviceEvent] = (),
        now: datetime | None = None,
    ) -> list[EngineEvent]:
        """One `evaluate` call; `now` defaults to 5 s after the newest record of the batch."""
        if now is None:
            times = [f.fix_time for f in fixes] + [e.time for e in device_events]
            now = max(times) + REPLY_DELAY
        events: list[EngineEvent]
        self.state, events = evaluate(self.rules, self.state, fixes, device_events, now)
        self.events.extend(events)
        return events

    def one_by_one(self, fixes: Iterable[Fix]) -> Run:
        """Each fix in its own call, evaluated 5 s after its fix time, in the order given."""
        for fix in fixes:
            self.feed([fix])
        return self

    @property
    def episodes(self) -> list[Episode]:
        return sorted(self.state.all_episodes(), key=lambda e: (e.rule, e.requirement_id, e.start))

    def changes(self, change: EpisodeChange) -> list[EpisodeEvent]:
        return [e for e in self.events if isinstance(e, EpisodeEvent) and e.change is change]

    @property
    def opened(self) -> list[EpisodeEvent]:
        return self.changes(EpisodeChange.OPENED)

    @property
    def warnings(self) -> list[ApproachWarning]:
        return [e for e in self.events if isinstance(e, ApproachWarning)]

    @property
    def outcomes(self) -> list[AttendanceOutcome]:
        return [e for e in self.events if isinstance(e, AttendanceOutcome)]

    @property
    def beyond_lateness(self) -> list[FixBeyondLateness]:
        return [e for e in self.events if isinstance(e, FixBeyondLateness)]


def spans(episodes: Iterable[Episode]) -> list[tuple[datetime, datetime | None]]:
    """(start, end) of each episode, in order: what most assertions compare."""
    return [(e.start, e.end) for e in sorted(episodes, key=lambda e: e.start)]


# CI runs the property tests derandomised: a failure there is reproducible from the log, and
# a green run is not luck. Locally, hypothesis explores new examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
