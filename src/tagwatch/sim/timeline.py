"""One person's whole simulated life: daily routine, then the deliberate deviations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import partial

import numpy as np

from tagwatch.sim.excursions import (
    Planned,
    Splicer,
    absence_trip,
    entry_trip,
    inclusion_exit_trip,
    near_miss_trip,
)
from tagwatch.sim.model import Scenario
from tagwatch.sim.persons import Person
from tagwatch.sim.places import TownMap
from tagwatch.sim.routine import anchors, home_stay, plan_day
from tagwatch.sim.timetable import local_seconds
from tagwatch.sim.track import Block

HOUR = 3600.0


@dataclass(slots=True)
class Timeline:
    blocks: list[Block]
    planned: list[Planned] = field(default_factory=list)
    tampers: list[tuple[float, float]] = field(default_factory=list)  # strap cut, restored
    has_car: bool = False


def plan_timeline(
    person: Person,
    scenario: Scenario,
    days: list[date],
    span: tuple[float, float],
    towns: TownMap,
    rng: np.random.Generator,
) -> Timeline:
    tz = scenario.time_zone
    has_car = bool(rng.random() < 0.5)
    blocks: list[Block] = []
    planned: list[Planned] = []
    cursor = span[0]
    for day in days:
        plan = plan_day(
            person,
            day,
            rng,
            time_zone=tz,
            has_car=has_car,
            late_home_rate=scenario.late_home_rate,
            near_miss_rate=scenario.curfew_near_miss_rate,
        )
        if plan is None:
            continue
        blocks.append(home_stay(person, cursor, plan.blocks[0].t0))
        blocks.extend(plan.blocks)
        cursor = plan.blocks[-1].t1
        hold = anchors(person, day, tz)
        curfew_id = person.curfew.id if person.curfew else ""
        if plan.deviation == "late_home" and hold.deadline is not None:
            planned.append(Planned(plan.deviation, curfew_id, hold.deadline, plan.arrive))
        elif plan.deviation == "curfew_near_miss_arrive" and hold.deadline is not None:
            planned.append(Planned(plan.deviation, curfew_id, plan.arrive, hold.deadline))
        elif plan.deviation == "curfew_near_miss_leave" and hold.free_from is not None:
            planned.append(Planned(plan.deviation, curfew_id, hold.free_from, plan.leave))
    blocks.append(home_stay(person, cursor, span[1]))

    splicer = Splicer(person, blocks)
    nearby = [(float(x), float(y)) for x, y in zip(towns.x, towns.y, strict=True)]
    home = np.array([person.home.x, person.home.y])
    order = np.argsort(np.hypot(towns.x - home[0], towns.y - home[1]))
    nearby = [nearby[int(i)] for i in order[1:6]]
    tampers: list[tuple[float, float]] = []
    for day in days:
        daytime = (local_seconds(day, 7 * HOUR, tz), local_seconds(day, 22 * HOUR, tz))
        found: Planned | None
        curfew = person.curfew
        if curfew is not None and rng.random() < scenario.curfew_absence_rate:
            night = anchors(person, day, tz).deadline
            windows = [w for w in curfew.intervals if night is not None and w[0] == night]
            if windows:
                found = splicer.splice(
                    partial(absence_trip, curfew, rng=rng, has_car=has_car),
                    window=(float(windows[0][0]), float(windows[0][1])),
                    kind="curfew_absence",
                    target=curfew.id,
                    rng=rng,
                    must_be_active=curfew,
                    where="home",
                )
                planned.extend([found] if found else [])
        if person.exclusions and rng.random() < scenario.exclusion_entry_rate:
            zone = person.exclusions[int(rng.integers(len(person.exclusions)))]
            found = splicer.splice(
                partial(entry_trip, zone, rng=rng, has_car=has_car),
                window=daytime,
                kind="exclusion_entry",
                target=zone.id,
                rng=rng,
                must_be_active=zone,
            )
            planned.extend([found] if found else [])
        if person.exclusions and rng.random() < scenario.exclusion_near_miss_rate:
            zone = person.exclusions[int(rng.integers(len(person.exclusions)))]
            found = splicer.splice(
                partial(near_miss_trip, zone, rng=rng, has_car=has_car),
                window=daytime,
                kind="exclusion_near_miss",
                target=zone.id,
                rng=rng,
                must_be_active=zone,
            )
            planned.extend([found] if found else [])
        inclusion = person.inclusion
        if inclusion is not None and rng.random() < scenario.inclusion_exit_rate:
            found = splicer.splice(
                partial(inclusion_exit_trip, inclusion, towns=nearby, rng=rng, has_car=has_car),
                window=daytime,
                kind="inclusion_exit",
                target=inclusion.id,
                rng=rng,
                must_be_active=inclusion,
            )
            planned.extend([found] if found else [])
        if rng.random() < scenario.strap_tamper_rate:
            cut = local_seconds(day, float(rng.uniform(0.0, 23.5)) * HOUR, tz)
            restored = min(cut + float(rng.uniform(2.0, 30.0)) * 60.0, span[1] - 1.0)
            tampers.append((cut, restored))
            planned.append(Planned("strap_tamper", "", cut, restored))
    return Timeline(splicer.blocks, planned, tampers, has_car)
