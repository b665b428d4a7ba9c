"""Everyday life: home overnight, out by day (work or a day centre, shops, visits), home
again in good time for the curfew.

Times are planned on the local wall clock and converted with zoneinfo, so the routine is
right on the day the clocks change too. Deliberate deviations (late home, near misses) are
chosen here; excursions (zone entries, curfew absences) are added by `excursions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import numpy as np

from tagwatch.sim.persons import DAY_CENTRE, SHOP, VISIT, WORK, Person
from tagwatch.sim.timetable import local_seconds
from tagwatch.sim.track import Block, Move, Sky, Stay, path_length, travel_speed, urban_r95

HOUR = 3600.0
MINUTE = 60.0
HOME_WANDER_M = 6.0  # moving between rooms stays well inside the beacon's ~30 m


@dataclass(frozen=True, slots=True)
class DayPlan:
    """The outing of one day: leave home at `leave`, back home at `arrive` (epoch seconds)."""

    day: date
    blocks: list[Block]  # from leaving home to arriving home
    leave: float
    arrive: float
    deviation: str  # "", "late_home", "curfew_near_miss_arrive", "curfew_near_miss_leave"


@dataclass(frozen=True, slots=True)
class Anchors:
    """The curfew's hold on one day: free to leave after `free_from`, home by `deadline`."""

    free_from: float | None
    deadline: float | None


def anchors(person: Person, day: date, time_zone: str) -> Anchors:
    if person.curfew is None:
        return Anchors(None, None)
    intervals = person.curfew.intervals
    morning = local_seconds(day, 4 * HOUR, time_zone)
    noon = local_seconds(day, 12 * HOUR, time_zone)
    next_noon = local_seconds(day, 36 * HOUR, time_zone)
    free_from = None
    for start, end in intervals:
        if start <= morning < end:
            free_from = float(end)
    deadline = None
    for start, _ in intervals:
        if noon <= start < next_noon:
            deadline = float(start)
            break
    return Anchors(free_from, deadline)


def _activities(person: Person, day: date, rng: np.random.Generator) -> list[tuple[int, float]]:
    """(place index, wanted duration) for the day, in order."""
    kinds = [place.kind for place in person.places]

    def pick(kind: str) -> int:
        options = [i for i, k in enumerate(kinds) if k == kind]
        return options[int(rng.integers(len(options)))]

    weekday = day.weekday() < 5
    chosen: list[tuple[int, float]] = []
    if person.worker and weekday:
        chosen.append((pick(WORK), float(rng.uniform(6.0, 9.0)) * HOUR))
    elif weekday and rng.random() < 0.4 and DAY_CENTRE in kinds:
        chosen.append((pick(DAY_CENTRE), float(rng.uniform(3.0, 6.0)) * HOUR))
    elif not weekday and rng.random() < 0.2:
        return []
    if rng.random() < (0.4 if chosen else 0.8):
        chosen.append((pick(SHOP), float(rng.uniform(15.0, 75.0)) * MINUTE))
    if rng.random() < (0.2 if chosen else 0.6):
        chosen.append((pick(VISIT), float(rng.uniform(1.0, 4.0)) * HOUR))
    return chosen or [(pick(SHOP), float(rng.uniform(20.0, 60.0)) * MINUTE)]


def _stay_at(person: Person, place: int, t0: float, t1: float, rng: np.random.Generator) -> Stay:
    where = person.places[place]
    if where.outdoor:
        return Stay(where.x, where.y, t0, t1, Sky.OUTDOOR, urban_r95(rng), 25.0, place)
    wander = HOME_WANDER_M if place == 0 else 10.0
    return Stay(
        where.x,
        where.y,
        t0,
        t1,
        Sky.INDOOR,
        where.indoor_r95_m,
        wander,
        place,
        basement_ok=where.kind in (SHOP, WORK),
    )


def _fit(
    person: Person,
    plan: list[tuple[int, float]],
    leave: float,
    arrive: float,
    speeds: dict[tuple[int, int], float],
    rng: np.random.Generator,
    *,
    fixed_leave: bool,
) -> list[Block] | None:
    """Blocks from leaving home to arriving home exactly at `arrive`, or None if nothing fits.

    Spare time goes into a break at home in the middle of the day, or into starting later;
    too little time shortens the activities, then drops them from the end.
    """
    plan = list(plan)
    while plan:
        sequence = [0, *(p for p, _ in plan), 0]
        legs = list(pairwise(sequence))
        travel = sum(path_length(person.route(a, b)) / speeds[(a, b)] for a, b in legs)
        wanted = sum(d for _, d in plan)
        spare = arrive - leave - travel - wanted
        if spare < 0:
            minimum = 10 * MINUTE * len(plan)
            if arrive - leave - travel >= minimum + 30 * MINUTE:
                scale = (arrive - leave - travel) / wanted
                plan = [(p, d * scale) for p, d in plan]
                spare = 0.0
            else:
                plan.pop()
                continue
        if spare > 45 * MINUTE and len(plan) > 1 and plan[1][0] != 0:
            break_home = (0, spare)  # travel of the extra legs is found on the next pass
            plan = [plan[0], break_home, *plan[1:]]
            continue
        start = leave + max(spare, 0.0) if len(plan) == 1 and not fixed_leave else leave
        if len(plan) > 1 or fixed_leave:
            plan[-1] = (plan[-1][0], plan[-1][1] + max(spare, 0.0))
        blocks: list[Block] = []
        t = start
        for (a, b), index in zip(legs, range(len(legs)), strict=True):
            path = person.route(a, b)
            duration = path_length(path) / speeds[(a, b)]
            blocks.append(Move(path, t, t + duration, urban_r95(rng)))
            t += duration
            if index < len(plan):
                place, stay = plan[index]
                blocks.append(_stay_at(person, place, t, t + stay, rng))
                t += stay
        return blocks
    return None


def plan_day(
    person: Person,
    day: date,
    rng: np.random.Generator,
    *,
    time_zone: str,
    has_car: bool,
    late_home_rate: float,
    near_miss_rate: float,
) -> DayPlan | None:
    hold = anchors(person, day, time_zone)
    plan = _activities(person, day, rng)
    if not plan:
        return None
    first_place = plan[0][0]
    works = person.places[first_place].kind == WORK
    leave = local_seconds(
        day, float(rng.uniform(6.75, 9.0) if works else rng.uniform(9.0, 12.0)) * HOUR, time_zone
    )
    deviation = ""
    draw = rng.random()
    if hold.free_from is not None:
        if draw < near_miss_rate / 2:
            deviation = "curfew_near_miss_leave"
            leave = hold.free_from + float(rng.uniform(1.0, 5.0)) * MINUTE
        else:
            leave = max(leave, hold.free_from + float(rng.uniform(15.0, 90.0)) * MINUTE)
    if hold.deadline is not None:
        if not deviation and draw < near_miss_rate:
            deviation = "curfew_near_miss_arrive"
            arrive = hold.deadline - float(rng.uniform(1.0, 5.0)) * MINUTE
        elif draw > 1.0 - late_home_rate:
            deviation = "late_home"
            arrive = hold.deadline + float(rng.uniform(5.0, 40.0)) * MINUTE
        else:
            arrive = hold.deadline - float(rng.uniform(15.0, 150.0)) * MINUTE
    else:
        arrive = local_seconds(day, float(rng.uniform(17.0, 23.0)) * HOUR, time_zone)
    if arrive - leave < HOUR:
        return None
    speeds: dict[tuple[int, int], float] = {}
    for a, b in person.routes:
        length = path_length(person.routes[(a, b)])
        speeds[(a, b)] = speeds[(b, a)] = travel_speed(rng, length, has_car)
    fixed_leave = deviation == "curfew_near_miss_leave"
    blocks = _fit(person, plan, leave, arrive, speeds, rng, fixed_leave=fixed_leave)
    if blocks is None:
        return None
    return DayPlan(day, blocks, leave, arrive, deviation)


def home_stay(person: Person, t0: float, t1: float) -> Stay:
    home = person.home
    return Stay(home.x, home.y, t0, t1, Sky.INDOOR, home.indoor_r95_m, HOME_WANDER_M, 0)
