"""The population of `tagwatch bench ingest`: tags, their subjects and exclusion zones.

Every subject wears one tag and has a 200 m exclusion zone 3 km from where the tag
roams, so ordinary fixes are kilometres from every zone (as most are) and the engine
judges every one of them. Breachers are a few extra subjects with a row of zones each
(1 km apart); a breach is one fix in the middle of a zone not yet entered: one decisive
fix opens an episode (device, rule, zone) and raises an alert. A few tags with many zones
keep the warm-up short: each tag's first request costs an Argon2 check (below).

Everything is written through the store's contract (any store URL), the way an admin
would set it up; devices authenticate with their own secret as the batch route demands.
They share one secret, hashed once with the server's own Argon2 parameters, so the
server's first check of each device is a plain verification (no rehash).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tagwatch.domain.people import Assignment, Device, RiskLevel, Subject
from tagwatch.domain.zones import Circle, Zone, ZoneKind
from tagwatch.store import SecretHasher, Store, create_store
from tagwatch.store.records import UserRole

METRES_PER_DEGREE_LAT = 111_320.0
AREA = (-0.60, 51.60, -0.05, 51.95)  # lon/lat box around Hertfordshire
ZONE_RADIUS_M = 200.0
ZONE_OFFSET_M = 3_000.0  # a roaming tag's zone is this far east of its home
ROAM_M = 500.0  # ordinary fixes fall within this of home
DEVICE_SECRET = "bench device secret"  # noqa: S105 - the synthetic devices' shared secret
USERNAME = "bench-operator"
PASSWORD = "bench operator password"  # noqa: S105 - a synthetic user's


ZONE_SPACING_M = 1_000.0  # between a breacher's zones
BREACHER_TAGS = 10


@dataclass(frozen=True, slots=True)
class Tag:
    device_id: str
    subject_id: str
    home: tuple[float, float]  # lon, lat
    zone_centres: tuple[tuple[float, float], ...]

    def zone_id(self, index: int) -> str:
        return f"zone-{self.subject_id}-{index}"


@dataclass(frozen=True, slots=True)
class Breach:
    tag: Tag
    zone: int  # index into tag.zone_centres

    @property
    def zone_id(self) -> str:
        return self.tag.zone_id(self.zone)

    @property
    def centre(self) -> tuple[float, float]:
        return self.tag.zone_centres[self.zone]


@dataclass(frozen=True, slots=True)
class Population:
    roaming: tuple[Tag, ...]  # send ordinary fixes, far from their zones
    breachers: tuple[Tag, ...]  # step into one zone after another
    breaches: tuple[Breach, ...]  # in the order they are sent

    @property
    def tags(self) -> tuple[Tag, ...]:
        return self.roaming + self.breachers


def east_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    lon, lat = point
    return lon + metres / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))), lat


def make_population(roaming: int, breaches: int, *, seed: int = 1) -> Population:
    """`roaming` tags with one zone each, and `breaches` zones over a few breacher tags."""
    rng = random.Random(seed)
    breacher_count = min(BREACHER_TAGS, breaches)
    zones_each = -(-breaches // breacher_count) if breaches else 0

    def tags(prefix: str, count: int, zones: int) -> Iterator[Tag]:
        for i in range(count):
            home = (rng.uniform(AREA[0], AREA[2]), rng.uniform(AREA[1], AREA[3]))
            centres = tuple(east_of(home, ZONE_OFFSET_M + ZONE_SPACING_M * j) for j in range(zones))
            yield Tag(f"{prefix}-t{i:05d}", f"{prefix}-s{i:05d}", home, centres)

    breachers = tuple(tags("breach", breacher_count, zones_each))
    order = tuple(
        Breach(breachers[n % breacher_count], n // breacher_count) for n in range(breaches)
    )
    return Population(tuple(tags("bench", roaming, 1)), breachers, order)


def install(store_url: str, population: Population, *, now: datetime) -> None:
    """Subjects, tags with their secret, assignments, zones and an operator, in the store."""
    store = create_store(store_url, hasher=_SharedSecretHasher())
    store.open()
    try:
        _install(store, population, now)
    finally:
        store.close()


def _install(store: Store, population: Population, now: datetime) -> None:
    fitted = now - timedelta(days=30)
    with store.transaction() as tx:
        for tag in population.tags:
            tx.subjects.save_subject(Subject(tag.subject_id, tag.subject_id, RiskLevel.MEDIUM))
            tx.devices.save_device(Device(tag.device_id))
            tx.assignments.save_assignment(Assignment(tag.device_id, tag.subject_id, fitted))
            for index, centre in enumerate(tag.zone_centres):
                circle = Circle(*centre, ZONE_RADIUS_M)
                tx.zones.save_zone(
                    Zone(tag.zone_id(index), tag.subject_id, ZoneKind.EXCLUSION, circle)
                )
            tx.devices.set_device_secret(tag.device_id, DEVICE_SECRET, now=now)
        tx.users.create_user(USERNAME, PASSWORD, UserRole.OPERATOR, now=now)


class _SharedSecretHasher(SecretHasher):
    """Production Argon2 parameters, but the devices' shared secret is hashed only once."""

    def __init__(self) -> None:
        super().__init__()
        self._device_hash: str | None = None

    def hash(self, secret: str) -> str:
        if secret != DEVICE_SECRET:
            return super().hash(secret)
        if self._device_hash is None:
            self._device_hash = super().hash(secret)
        return self._device_hash
