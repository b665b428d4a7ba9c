"""Data for the store contract suite: fixed instants and places, and builders of fixes,
subjects, episodes and alert drafts. Test modules import them from here (not from
conftest, whose module name is shared by every test folder's conftest)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tagwatch.domain.episodes import Episode, RuleKind, episode_id
from tagwatch.domain.people import Assignment, Device, Subject
from tagwatch.domain.positions import Fix
from tagwatch.store import Store, UnitOfWork
from tagwatch.store.records import AlertDraft, AlertSeverity

POSTGRES_SERVER = os.environ.get(
    "TAGWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

StoreFactory = Callable[[], Store]

# A Thursday evening in November, in UTC; Europe/London is on GMT then.
T0 = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)
ST_ALBANS = (-0.336, 51.752)  # lon, lat


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point `east_m`/`north_m` metres from (lon, lat), on the sphere (small offsets)."""
    radius = 6_371_008.8
    dlat = math.degrees(north_m / radius)
    dlon = math.degrees(east_m / (radius * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def make_fix(
    device_id: str, at: datetime, lon: float = ST_ALBANS[0], lat: float = ST_ALBANS[1], **kw: object
) -> Fix:
    return Fix(device_id=device_id, fix_time=at, lat=lat, lon=lon, accuracy_m=10.0, **kw)  # type: ignore[arg-type]


def seed_subject(
    store: UnitOfWork,
    subject_id: str = "subject-1",
    device_id: str = "tag-1",
    start: datetime = T0 - timedelta(days=30),
    end: datetime | None = None,
) -> None:
    """A subject wearing a tag from `start` (a month before T0 by default)."""
    if store.subjects.get_subject(subject_id) is None:
        store.subjects.save_subject(Subject(subject_id, f"Name of {subject_id}"))
    if store.devices.get_device(device_id) is None:
        store.devices.save_device(Device(device_id))
    store.assignments.save_assignment(Assignment(device_id, subject_id, start, end))


def make_episode(
    device_id: str = "tag-1",
    subject_id: str = "subject-1",
    start: datetime = T0,
    end: datetime | None = None,
    rule: RuleKind = RuleKind.EXCLUSION,
    requirement_id: str = "zone-1",
    depth: float = 12.5,
) -> Episode:
    return Episode(
        id=episode_id(device_id, rule, requirement_id, start),
        device_id=device_id,
        subject_id=subject_id,
        rule=rule,
        requirement_id=requirement_id,
        start=start,
        end=end,
        confirmed_at=start + timedelta(seconds=60),
        deepest_penetration_m=depth,
        confidence=0.97,
        evidence=(start + timedelta(seconds=60), start),
    )


def make_draft(
    episode: Episode,
    *,
    severity: AlertSeverity = AlertSeverity.HIGH,
    detected_at: datetime | None = None,
    late: bool = False,
    ack_deadline: datetime | None = None,
) -> AlertDraft:
    return AlertDraft(
        episode_id=episode.id,
        subject_id=episode.subject_id,
        device_id=episode.device_id,
        rule=episode.rule,
        requirement_id=episode.requirement_id,
        severity=severity,
        occurred_at=episode.start,
        detected_at=detected_at if detected_at is not None else episode.confirmed_at,
        late=late,
        ack_deadline=ack_deadline,
    )


def scatter(
    rng: random.Random, centre: tuple[float, float], spread_m: float
) -> tuple[float, float]:
    """A random point within `spread_m` metres east and north of `centre`."""
    return offset(*centre, rng.uniform(-spread_m, spread_m), rng.uniform(-spread_m, spread_m))
