"""Who is monitored: a home near a real town, everyday places, the routes between them,
and the orders with their requirements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely

from tagwatch.domain.people import (
    Assignment,
    Device,
    DeviceKind,
    Order,
    OrderType,
    RiskLevel,
    Subject,
)
from tagwatch.domain.rules import SubjectRules
from tagwatch.sim.model import Scenario
from tagwatch.sim.places import TownMap
from tagwatch.sim.requirements import (
    Requirement,
    make_curfew,
    make_exclusion,
    make_inclusion,
)

FloatArray = npt.NDArray[np.float64]

FIRST_NAMES = (
    "Aaron", "Adam", "Aisha", "Alex", "Amir", "Ben", "Callum", "Chloe", "Connor", "Daniel",
    "Darren", "Dean", "Emma", "Gary", "Harry", "Jade", "Jamie", "Jason", "Kayleigh", "Kieran",
    "Lee", "Liam", "Marcus", "Mark", "Mohammed", "Nathan", "Paul", "Reece", "Ryan", "Sam",
    "Sean", "Shane", "Stacey", "Tom", "Tyler", "Wayne",
)  # fmt: skip
LAST_NAMES = (
    "Ahmed", "Baker", "Brown", "Clarke", "Cooper", "Davies", "Evans", "Green", "Hall",
    "Harris", "Hughes", "Jackson", "James", "Johnson", "Jones", "Khan", "King", "Lewis",
    "Martin", "Moore", "Morris", "Patel", "Roberts", "Robinson", "Smith", "Taylor", "Thomas",
    "Turner", "Walker", "Ward", "White", "Williams", "Wilson", "Wood", "Wright", "Young",
)  # fmt: skip
ORDER_TYPES = (
    (OrderType.COURT_BAIL, 0.25),
    (OrderType.HOME_DETENTION_CURFEW, 0.25),
    (OrderType.COMMUNITY_ORDER, 0.15),
    (OrderType.SUSPENDED_SENTENCE_ORDER, 0.1),
    (OrderType.LICENCE, 0.15),
    (OrderType.DOMESTIC_ABUSE_PROTECTION_ORDER, 0.1),
)

HOME, WORK, SHOP, VISIT, DAY_CENTRE = "home", "work", "shop", "visit", "day_centre"


@dataclass(frozen=True, slots=True)
class Place:
    x: float
    y: float
    kind: str
    indoor_r95_m: float  # GPS 95 % error inside this building
    outdoor: bool = False  # an outdoor job (building site, market stall)


@dataclass(slots=True)
class Person:
    index: int
    subject: Subject
    tag_id: str
    hmu_id: str | None
    town: int
    places: list[Place]  # places[0] is home
    routes: dict[tuple[int, int], FloatArray]
    worker: bool
    order: Order
    curfew: Requirement | None
    exclusions: list[Requirement]
    inclusion: Requirement | None
    drain_pct_per_h: float
    open_r95_m: float  # this tag's 95 % error under open sky
    assignments: list[Assignment] = field(default_factory=list)

    @property
    def home(self) -> Place:
        return self.places[0]

    @property
    def requirements(self) -> list[Requirement]:
        found = [*self.exclusions]
        if self.inclusion is not None:
            found.append(self.inclusion)
        if self.curfew is not None:
            found.append(self.curfew)
        return found

    def route(self, a: int, b: int) -> FloatArray:
        if (a, b) in self.routes:
            return self.routes[(a, b)]
        return self.routes[(b, a)][::-1]

    def rules(self) -> SubjectRules:
        devices = (self.tag_id,) if self.hmu_id is None else (self.tag_id, self.hmu_id)
        return SubjectRules(
            subject_id=self.subject.id,
            device_ids=devices,
            zones=tuple(r.zone for r in [*self.exclusions, self.inclusion] if r and r.zone),
            curfews=(self.curfew.curfew,) if self.curfew and self.curfew.curfew else (),
        )

    def devices(self) -> list[Device]:
        found = [Device(self.tag_id, DeviceKind.TAG, "osmand", f"tag of {self.subject.id}")]
        if self.hmu_id is not None:
            found.append(
                Device(self.hmu_id, DeviceKind.HOME_MONITORING_UNIT, "osmand", "home unit")
            )
        return found


def make_route(rng: np.random.Generator, a: Place, b: Place) -> FloatArray:
    """A plausible road path: the straight line bent through a few offset waypoints."""
    start, end = np.array([a.x, a.y]), np.array([b.x, b.y])
    length = float(np.hypot(*(end - start)))
    bends = min(4, int(length // 1200))
    if bends == 0:
        return np.vstack([start, end])
    normal = np.array([-(end - start)[1], (end - start)[0]]) / max(length, 1e-9)
    fractions = np.sort(rng.uniform(0.15, 0.85, bends))
    offsets = np.clip(rng.normal(0.0, 0.06 * length, bends), -0.15 * length, 0.15 * length)
    middle = start + np.outer(fractions, end - start) + np.outer(offsets, normal)
    return np.vstack([start, middle, end])


def _near(
    rng: np.random.Generator, x: float, y: float, lo: float, hi: float
) -> tuple[float, float]:
    distance = float(np.sqrt(rng.uniform(lo * lo, hi * hi)))  # uniform over the annulus
    angle = float(rng.uniform(0, 2 * np.pi))
    return x + distance * np.cos(angle), y + distance * np.sin(angle)


def _indoor_r95(rng: np.random.Generator) -> float:
    return float(np.clip(rng.lognormal(np.log(50.0), 0.35), 30.0, 100.0))


def _places(rng: np.random.Generator, towns: TownMap, town: int, worker: bool) -> list[Place]:
    tx, ty = float(towns.x[town]), float(towns.y[town])
    home = Place(*_near(rng, tx, ty, 300.0, 3000.0), HOME, _indoor_r95(rng))
    places = [home]
    if worker:
        # Three in ten work in a neighbouring town.
        work_town = (
            town
            if rng.random() < 0.7
            else towns.nearest(tx, ty, exclude=town)[int(rng.integers(0, 3))]
        )
        wx, wy = _near(rng, float(towns.x[work_town]), float(towns.y[work_town]), 0.0, 2000.0)
        places.append(Place(wx, wy, WORK, _indoor_r95(rng), outdoor=bool(rng.random() < 0.2)))
    else:
        places.append(Place(*_near(rng, tx, ty, 0.0, 1000.0), DAY_CENTRE, _indoor_r95(rng)))
    for _ in range(int(rng.integers(1, 3))):
        places.append(Place(*_near(rng, tx, ty, 0.0, 600.0), SHOP, _indoor_r95(rng)))
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.7:
            vx, vy = _near(rng, home.x, home.y, 500.0, 4000.0)
        else:
            other = towns.nearest(tx, ty, exclude=town)[int(rng.integers(0, 3))]
            vx, vy = _near(rng, float(towns.x[other]), float(towns.y[other]), 200.0, 2500.0)
        places.append(Place(vx, vy, VISIT, _indoor_r95(rng)))
    return places


def _order_type(rng: np.random.Generator) -> OrderType:
    kinds = [kind for kind, _ in ORDER_TYPES]
    weights = np.array([w for _, w in ORDER_TYPES])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


def make_person(
    index: int,
    rng: np.random.Generator,
    scenario: Scenario,
    towns: TownMap,
    days: list[date],
    span: tuple[datetime, datetime],
) -> Person:
    subject_id = f"S{index + 1:04d}"
    tag_id = f"86{index + 1:013d}"  # IMEI-like, as the tag reports itself
    town = int(rng.choice(len(towns.towns), p=towns.weights))
    worker = bool(rng.random() < 0.55)
    places = _places(rng, towns, town, worker)
    routes = {
        (a, b): make_route(rng, places[a], places[b])
        for a in range(len(places))
        for b in range(a + 1, len(places))
    }
    route_lines = shapely.multilinestrings([shapely.LineString(p) for p in routes.values()])
    place_points = shapely.multipoints([(p.x, p.y) for p in places])
    network = shapely.union(route_lines, place_points)
    order_start = span[0] - timedelta(days=int(rng.integers(3, 300)))
    order_id = f"{subject_id}-ORD"
    has_curfew = bool(rng.random() < scenario.curfew_share)
    beacon_chance = scenario.beacon_share / max(scenario.curfew_share, 1e-9)
    hmu_id = f"HMU-{index + 1:05d}" if has_curfew and rng.random() < beacon_chance else None
    home = (places[0].x, places[0].y)
    common = {"subject_id": subject_id, "order_id": order_id, "time_zone": scenario.time_zone}
    curfew = (
        make_curfew(
            rng,
            requirement_id=f"{subject_id}-CUR",
            home=home,
            beacon_id=hmu_id,
            days=days,
            span=span,
            **common,
        )
        if has_curfew
        else None
    )
    exclusions: list[Requirement] = []
    wanted = 0
    if rng.random() < scenario.exclusion_share:
        wanted = 2 if rng.random() < scenario.second_exclusion_share else 1
    keep_off = place_points
    for number in range(1, wanted + 1):
        zone = make_exclusion(
            rng,
            requirement_id=f"{subject_id}-EZ{number}",
            home=home,
            places=keep_off,
            routes=route_lines,
            span=span,
            **common,
        )
        if zone is not None:
            exclusions.append(zone)
            keep_off = shapely.union(keep_off, zone.region.geometry)
    inclusion = (
        make_inclusion(
            rng,
            requirement_id=f"{subject_id}-IZ",
            network=network,
            town_name=towns.towns[town].name,
            span=span,
            **common,
        )
        if rng.random() < scenario.inclusion_share
        else None
    )
    first_name = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
    name = f"{first_name} {LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]}"
    risk = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.VERY_HIGH][
        int(rng.choice(4, p=[0.2, 0.5, 0.25, 0.05]))
    ]
    subject = Subject(subject_id, name, risk, reference=f"CASE/{2026}/{index + 1:05d}")
    requirement_ids = tuple(r.id for r in [*exclusions, inclusion, curfew] if r is not None)
    order = Order(
        id=order_id,
        subject_id=subject_id,
        order_type=_order_type(rng),
        start=order_start,
        time_zone=scenario.time_zone,
        reference=f"T{20260000 + index + 1}",
        conditions=requirement_ids,
    )
    person = Person(
        index=index,
        subject=subject,
        tag_id=tag_id,
        hmu_id=hmu_id,
        town=town,
        places=places,
        routes=routes,
        worker=worker,
        order=order,
        curfew=curfew,
        exclusions=exclusions,
        inclusion=inclusion,
        drain_pct_per_h=float(rng.uniform(1.8, 3.0)),  # 1.5-2.5 days a charge
        open_r95_m=float(rng.uniform(4.0, 6.0)),
    )
    person.assignments.append(Assignment(tag_id, subject_id, order_start))
    if hmu_id is not None:
        person.assignments.append(Assignment(hmu_id, subject_id, order_start))
    return person
