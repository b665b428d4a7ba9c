"""Orders' requirements for one subject: curfew at home, exclusion zones, an inclusion zone.

Zones are placed where the subject's everyday life keeps clear of them: an exclusion zone
is at least 200 m from every place the subject spends time in and 100 m from every route
between them, so that on a normal day nothing but GPS error can suggest a breach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.schedules import (
    ExceptionMode,
    Schedule,
    ScheduleException,
    WeeklyWindow,
)
from tagwatch.domain.zones import Curfew, Shape, Zone, ZoneKind
from tagwatch.sim.shapes import Region, area_from_bng, circle_from_bng
from tagwatch.sim.timetable import IntervalArray, active_intervals, local_instant

CURFEW_HOURS = ((19, 7), (20, 6), (19, 6), (21, 7), (20, 7))


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement with what the simulator needs to judge it against a true track."""

    id: str
    rule: RuleKind
    region: Region
    intervals: IntervalArray  # when it applies, epoch seconds over the simulation
    zone: Zone | None = None
    curfew: Curfew | None = None

    @property
    def shape(self) -> Shape:
        if self.zone is not None:
            return self.zone.shape
        assert self.curfew is not None  # noqa: S101 - a requirement is a zone or a curfew
        return self.curfew.address

    def active_at(self, t: float) -> bool:
        i = int(np.searchsorted(self.intervals[:, 0], t, side="right")) - 1
        return i >= 0 and t < float(self.intervals[i, 1])

    def active_throughout(self, t0: float, t1: float) -> bool:
        i = int(np.searchsorted(self.intervals[:, 0], t0, side="right")) - 1
        return i >= 0 and t1 <= float(self.intervals[i, 1])


def make_curfew(
    rng: np.random.Generator,
    *,
    requirement_id: str,
    subject_id: str,
    order_id: str,
    home: tuple[float, float],
    beacon_id: str | None,
    days: list[date],
    time_zone: str,
    span: tuple[datetime, datetime],
) -> Requirement:
    opens, closes = CURFEW_HOURS[int(rng.integers(len(CURFEW_HOURS)))]
    exceptions: tuple[ScheduleException, ...] = ()
    if rng.random() < 0.1:
        # The curfew lifted until 23:00 one evening (a family event agreed with probation).
        day = days[int(rng.integers(len(days)))]
        exceptions = (
            ScheduleException(
                local_instant(day, time(opens), time_zone),
                local_instant(day, time(23), time_zone),
                ExceptionMode.LIFTED,
                "variation: family event",
            ),
        )
    schedule = Schedule.every_day(
        time(opens), time(closes), time_zone=time_zone, exceptions=exceptions
    )
    radius = float(rng.uniform(100.0, 150.0))
    curfew = Curfew(
        id=requirement_id,
        subject_id=subject_id,
        address=circle_from_bng(home[0], home[1], round(radius, 1)),
        schedule=schedule,
        order_id=order_id,
        beacon_device_id=beacon_id,
    )
    return Requirement(
        requirement_id,
        RuleKind.CURFEW,
        Region.of(curfew.address),
        active_intervals(schedule, *span),
        curfew=curfew,
    )


def _blob(rng: np.random.Generator, x: float, y: float) -> shapely.Geometry:
    """A victim's neighbourhood: an irregular star-shaped polygon of 20-200 vertices."""
    vertices = int(rng.integers(20, 201))
    theta = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    radius = float(rng.uniform(180.0, 450.0))
    wobble = np.ones_like(theta)
    for k in range(2, 6):
        wobble += rng.uniform(0.0, 0.08) * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    ring = np.column_stack(
        [x + radius * wobble * np.cos(theta), y + radius * wobble * np.sin(theta)]
    )
    return shapely.Polygon(ring)


def _street(rng: np.random.Generator, x: float, y: float) -> shapely.Geometry:
    """A victim's street: a bent line buffered by 60-130 m, densified to at least 20 vertices."""
    length = float(rng.uniform(400.0, 1000.0))
    heading = float(rng.uniform(0, 2 * np.pi))
    bend = float(rng.normal(0.0, 0.5))
    half = length / 2
    points = [
        (x - half * np.cos(heading), y - half * np.sin(heading)),
        (x, y),
        (x + half * np.cos(heading + bend), y + half * np.sin(heading + bend)),
    ]
    polygon = shapely.buffer(
        shapely.LineString(points), float(rng.uniform(60.0, 130.0)), quad_segs=4
    )
    return shapely.segmentize(polygon, max(25.0, polygon.length / 60.0))


def _exclusion_schedule(rng: np.random.Generator, time_zone: str) -> Schedule:
    draw = rng.random()
    if draw < 0.75:
        return Schedule()
    if draw < 0.9:
        # The victim's workplace, during working hours.
        windows = tuple(WeeklyWindow(day, time(7), time(19)) for day in range(5))
        return Schedule.weekly(windows, time_zone=time_zone)
    return Schedule.every_day(time(8), time(22), time_zone=time_zone)


def make_exclusion(
    rng: np.random.Generator,
    *,
    requirement_id: str,
    subject_id: str,
    order_id: str,
    home: tuple[float, float],
    places: shapely.Geometry,
    routes: shapely.Geometry,
    time_zone: str,
    span: tuple[datetime, datetime],
) -> Requirement | None:
    """An exclusion zone near home (a few km, often less): 200 m or more from every place
    the subject spends time in (and from their other zones), 100 m or more from the routes
    between them."""
    from_places = 200.0 + min(float(rng.exponential(200.0)), 1300.0)
    from_routes = 100.0 + min(float(rng.exponential(100.0)), 900.0)
    kind = rng.random()
    for attempt in range(80):
        # Victims often live in the same town: most zones are within a few km of home.
        distance = 300.0 + float(rng.exponential(1500.0 if attempt < 40 else 4000.0))
        angle = float(rng.uniform(0, 2 * np.pi))
        cx, cy = home[0] + distance * np.cos(angle), home[1] + distance * np.sin(angle)
        if kind < 0.5:
            radius = float(rng.uniform(150.0, 500.0))
            geometry = shapely.Point(cx, cy).buffer(radius)
        elif kind < 0.8:
            geometry = _blob(rng, cx, cy)
        else:
            geometry = _street(rng, cx, cy)
        if (
            not geometry.is_valid
            or shapely.distance(geometry, places) < from_places
            or shapely.distance(geometry, routes) < from_routes
        ):
            continue
        shape: Shape = (
            circle_from_bng(cx, cy, round(radius, 1)) if kind < 0.5 else area_from_bng(geometry)
        )
        warning = float(rng.choice([100.0, 150.0, 200.0, 300.0])) if rng.random() < 0.4 else 0.0
        schedule = _exclusion_schedule(rng, time_zone)
        zone = Zone(
            id=requirement_id,
            subject_id=subject_id,
            kind=ZoneKind.EXCLUSION,
            shape=shape,
            name="victim's address" if kind < 0.8 else "victim's street",
            order_id=order_id,
            warning_buffer_m=warning,
            schedule=schedule,
        )
        return Requirement(
            requirement_id,
            RuleKind.EXCLUSION,
            Region.of(shape),
            active_intervals(schedule, *span),
            zone=zone,
        )
    return None


def make_inclusion(
    rng: np.random.Generator,
    *,
    requirement_id: str,
    subject_id: str,
    order_id: str,
    network: shapely.Geometry,
    town_name: str,
    time_zone: str,
    span: tuple[datetime, datetime],
) -> Requirement:
    """Stay within the area of everyday life (grown by 0.8-1.5 km) during the day."""
    # The hull of the grown network is the grown hull, and far cheaper to buffer.
    grown = shapely.buffer(shapely.convex_hull(network), float(rng.uniform(800.0, 1500.0)))
    polygon = shapely.simplify(grown, 20.0)
    polygon = shapely.segmentize(polygon, max(50.0, polygon.length / 120.0))
    if rng.random() < 0.6:
        schedule = Schedule.every_day(time(7), time(19), time_zone=time_zone)
    else:
        schedule = Schedule()
    shape = area_from_bng(polygon)
    zone = Zone(
        id=requirement_id,
        subject_id=subject_id,
        kind=ZoneKind.INCLUSION,
        shape=shape,
        name=f"{town_name} area",
        order_id=order_id,
        schedule=schedule,
    )
    return Requirement(
        requirement_id,
        RuleKind.INCLUSION,
        Region.of(shape),
        active_intervals(schedule, *span),
        zone=zone,
    )


def simulation_days(start: datetime, days: int, time_zone: str) -> tuple[list[date], datetime]:
    """The local dates simulated and the local midnight after the last one (as UTC)."""
    first = start.astimezone(ZoneInfo(time_zone)).date()
    dates = [first + timedelta(days=i) for i in range(days)]
    end = local_instant(dates[-1] + timedelta(days=1), time(0), time_zone)
    return dates, end.astimezone(UTC)
