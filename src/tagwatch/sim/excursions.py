"""Deliberate deviations spliced into the routine: zone entries, curfew absences, leaving
the inclusion zone, and passes that stay just outside an exclusion zone.

Each excursion leaves a stay, goes somewhere, and comes back to the same place. An
excursion is only kept if it breaks nothing but what it is meant to break: its path keeps
150 m from other exclusion zones, stays inside an active inclusion zone, and keeps out of
curfew hours (unless it is the curfew absence). The ground truth itself is measured from
the resulting track, not from these plans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely

from tagwatch.sim.persons import Person
from tagwatch.sim.requirements import Requirement
from tagwatch.sim.track import WALK_MPS, Block, Move, Sky, Stay, travel_speed, urban_r95

FloatArray = npt.NDArray[np.float64]
MINUTE = 60.0
CLEAR_OF_OTHER_ZONES_M = 150.0


@dataclass(frozen=True, slots=True)
class Planned:
    kind: str
    requirement_id: str
    start: float  # when the deviation roughly begins and ends (epoch seconds)
    end: float


@dataclass(frozen=True, slots=True)
class Trip:
    blocks: list[Block]  # from leaving the stay's place until back there
    inside: tuple[float, float]  # offsets (s) from the start of roughly when it breaks the rule
    path: FloatArray  # every point visited, for the checks

    @property
    def duration(self) -> float:
        return sum(b.t1 - b.t0 for b in self.blocks)


def _nearest_boundary(region_geometry: shapely.Geometry, x: float, y: float) -> FloatArray:
    point = shapely.shortest_line(region_geometry, shapely.Point(x, y)).coords[0]
    return np.array(point, np.float64)


class _Route:
    """Straight moves and pauses from a starting point, timed from 0."""

    def __init__(self, start: FloatArray, rng: np.random.Generator) -> None:
        self.here = start
        self.t = 0.0
        self.blocks: list[Block] = []
        self._rng = rng

    def go(self, point: FloatArray, speed: float) -> float:
        """Move to `point`; returns the arrival time."""
        length = float(np.hypot(*(point - self.here)))
        if length > 0:
            path = np.vstack([self.here, point])
            self.blocks.append(Move(path, self.t, self.t + length / speed, urban_r95(self._rng)))
            self.t += length / speed
            self.here = point
        return self.t

    def pause(
        self, seconds: float, *, sky: Sky = Sky.OUTDOOR, r95_m: float = 0.0, wander_m: float = 0.0
    ) -> float:
        if seconds >= 1.0:
            x, y = float(self.here[0]), float(self.here[1])
            r95 = r95_m or urban_r95(self._rng)
            self.blocks.append(Stay(x, y, self.t, self.t + seconds, sky, r95, wander_m))
            self.t += seconds
        return self.t


def _duration_inside(rng: np.random.Generator) -> float:
    """Many short entries (2-5 min), some very short, some long."""
    draw = rng.random()
    if draw < 0.15:
        return float(rng.uniform(30.0, 120.0))
    if draw < 0.60:
        return float(rng.uniform(120.0, 300.0))
    if draw < 0.85:
        return float(rng.uniform(300.0, 1200.0))
    return float(rng.uniform(1200.0, 3600.0))


def entry_trip(
    zone: Requirement, here: FloatArray, rng: np.random.Generator, has_car: bool
) -> Trip | None:
    """Go well inside an exclusion zone for a while, from the side nearest `here`."""
    boundary = _nearest_boundary(zone.region.geometry, float(here[0]), float(here[1]))
    away = float(np.hypot(*(boundary - here)))
    if away < 200.0:
        return None
    inward = (boundary - here) / away
    wanted = _duration_inside(rng)
    # Short entries are drives in and out; a walk would not get well inside in time.
    speed_in = float(rng.uniform(*WALK_MPS)) if wanted >= 150 else float(rng.uniform(6.0, 12.0))
    depth = min(float(rng.uniform(60.0, 200.0)), 0.4 * wanted * speed_in)
    while depth >= 20.0:
        target = boundary + inward * depth
        if shapely.contains(
            zone.region.geometry, shapely.LineString([boundary + inward * 0.5, target])
        ):
            break
        depth /= 2
    else:
        return None
    approach = boundary - inward * min(float(rng.uniform(50.0, 150.0)), away / 2)
    speed_there = travel_speed(rng, float(np.hypot(*(approach - here))), has_car)
    route = _Route(here, rng)
    enter = route.go(approach, speed_there) + float(np.hypot(*(boundary - approach))) / speed_in
    route.go(target, speed_in)
    route.pause(max(wanted - 2 * depth / speed_in, 0.0), wander_m=8.0 if depth > 40 else 0.0)
    route.go(approach, speed_in)
    route.go(here, speed_there)
    return Trip(route.blocks, (enter, enter + wanted), np.vstack([here, approach, target]))


def near_miss_trip(
    zone: Requirement, here: FloatArray, rng: np.random.Generator, has_car: bool
) -> Trip | None:
    """Pass 10-60 m outside an exclusion zone, linger a moment, and go back."""
    boundary = _nearest_boundary(zone.region.geometry, float(here[0]), float(here[1]))
    away = float(np.hypot(*(boundary - here)))
    gap = float(rng.uniform(10.0, 60.0))
    if away < gap + 200.0:
        return None
    # Every point between `here` and its nearest boundary point has that same nearest
    # point, so this path is never closer to the zone than `gap`.
    closest = boundary - (boundary - here) / away * gap
    speed = travel_speed(rng, away, has_car)
    route = _Route(here, rng)
    reach = route.go(closest, speed)
    leave = route.pause(float(rng.uniform(30.0, 600.0)))  # waiting, watching
    route.go(here, speed)
    return Trip(route.blocks, (reach, leave), np.vstack([here, closest]))


def inclusion_exit_trip(
    zone: Requirement,
    here: FloatArray,
    towns: list[tuple[float, float]],
    rng: np.random.Generator,
    has_car: bool,
) -> Trip | None:
    """A trip to a town outside the inclusion zone, for 10 minutes to 2 hours outside."""
    geometry = zone.region.geometry
    for tx, ty in towns:
        target = np.array([tx, ty]) + rng.normal(0.0, 400.0, 2)
        if shapely.distance(geometry, shapely.Point(*target)) < 600.0:
            continue
        line = shapely.LineString([here, target])
        outside = float(shapely.difference(line, geometry).length)
        speed = travel_speed(rng, float(line.length), has_car)
        wanted = float(rng.uniform(10.0, 120.0)) * MINUTE
        indoors = rng.random() < 0.5
        route = _Route(here, rng)
        leave_zone = (float(line.length) - outside) / speed
        route.go(target, speed)
        back_in = (
            route.pause(
                max(wanted - 2 * outside / speed, 5 * MINUTE),
                sky=Sky.INDOOR if indoors else Sky.OUTDOOR,
                r95_m=float(rng.uniform(30.0, 80.0)) if indoors else 0.0,
                wander_m=10.0,
            )
            + outside / speed
        )
        route.go(here, speed)
        return Trip(route.blocks, (leave_zone, back_in), np.vstack([here, target]))
    return None


def absence_trip(
    curfew: Requirement, home: FloatArray, rng: np.random.Generator, has_car: bool
) -> Trip:
    """Leave home during the curfew for 3-90 minutes, going more than 300 m away."""
    radius = curfew.region.circle[2] if curfew.region.circle else 150.0
    draw = rng.random()
    low, high = (3, 10) if draw < 0.3 else (10, 30) if draw < 0.7 else (30, 90)
    wanted = float(rng.uniform(low, high)) * MINUTE
    distance = float(rng.uniform(radius + 320.0, 2000.0))
    walking = 2 * (distance - radius) / WALK_MPS[0] < 0.6 * wanted
    if walking:
        speed = float(rng.uniform(*WALK_MPS))
    else:  # a car, or else a lift, a taxi, a bicycle
        speed = float(rng.uniform(8.0, 14.0) if has_car else rng.uniform(6.0, 9.0))
    distance = max(min(distance, radius + 0.4 * wanted * speed), radius + 310.0)
    angle = float(rng.uniform(0, 2 * np.pi))
    target = home + distance * np.array([np.cos(angle), np.sin(angle)])
    route = _Route(home, rng)
    route.go(target, speed)
    route.pause(max(wanted - 2 * (distance - radius) / speed, 0.0), wander_m=5.0)
    route.go(home, speed)
    leave = radius / speed
    return Trip(route.blocks, (leave, leave + wanted), np.vstack([home, target]))


@dataclass(slots=True)
class Splicer:
    """Puts trips into a person's timeline, keeping every other requirement intact."""

    person: Person
    blocks: list[Block]

    def _path_ok(self, trip: Trip, t0: float, t1: float, *, target: str, kind: str) -> bool:
        line = shapely.LineString(trip.path) if len(trip.path) > 1 else shapely.Point(trip.path[0])
        for zone in self.person.exclusions:
            if (
                zone.id != target
                and shapely.distance(zone.region.geometry, line) < CLEAR_OF_OTHER_ZONES_M
            ):
                return False
        inclusion = self.person.inclusion
        if inclusion is not None and kind != "inclusion_exit" and _overlaps(inclusion, t0, t1):
            core = shapely.buffer(inclusion.region.geometry, -100.0)
            if not shapely.contains(core, line):
                return False
        curfew = self.person.curfew
        return (
            curfew is None
            or kind == "curfew_absence"
            or not _overlaps(curfew, t0 - 300.0, t1 + 300.0)
        )

    def splice(
        self,
        make: Callable[[FloatArray], Trip | None],
        *,
        window: tuple[float, float],
        kind: str,
        target: str,
        rng: np.random.Generator,
        must_be_active: Requirement | None = None,
        where: Literal["any", "home"] = "any",
    ) -> Planned | None:
        """Try a trip from one of the stays that lie in `window`; returns what was planned."""
        stays = [
            i
            for i, b in enumerate(self.blocks)
            if isinstance(b, Stay)
            and b.t1 > window[0]
            and b.t0 < window[1]
            and b.place >= 0
            and (where == "any" or b.place == 0)
        ]
        for i in rng.permutation(stays):
            stay = self.blocks[int(i)]
            assert isinstance(stay, Stay)  # noqa: S101 - chosen above
            here = np.array([stay.x, stay.y])
            trip = make(here)
            if trip is None:
                continue
            lo = max(stay.t0, window[0]) + 10 * MINUTE
            hi = min(stay.t1, window[1]) - 10 * MINUTE - trip.duration
            if hi <= lo:
                continue
            for _ in range(4):
                t0 = float(rng.uniform(lo, hi))
                t1 = t0 + trip.duration
                inside = (t0 + trip.inside[0], t0 + trip.inside[1])
                if must_be_active is not None and not must_be_active.active_throughout(
                    inside[0] - 120.0, inside[1] + 120.0
                ):
                    continue
                if not self._path_ok(trip, t0, t1, target=target, kind=kind):
                    break
                self._replace(int(i), stay, trip, t0)
                return Planned(kind, target, *inside)
        return None

    def _replace(self, index: int, stay: Stay, trip: Trip, t0: float) -> None:
        shifted = [replace(block, t0=block.t0 + t0, t1=block.t1 + t0) for block in trip.blocks]
        before, after = replace(stay, t1=t0), replace(stay, t0=t0 + trip.duration)
        self.blocks[index : index + 1] = [before, *shifted, after]


def _overlaps(requirement: Requirement, t0: float, t1: float) -> bool:
    intervals = requirement.intervals
    return bool(np.any((intervals[:, 0] < t1) & (intervals[:, 1] > t0)))
