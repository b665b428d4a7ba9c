"""Integration fixtures: the real services on a real SQLite file in a temporary directory.

`world` is one subject (medium risk) wearing tag-1, with a 200 m exclusion zone around a
point in St Albans, and the services bootstrapped on it with a FixedClock. Its helpers
make fixes `north_m` metres north of the zone's centre (0 is deep inside, 1000 is well
outside) and step the monitor until the inbox is empty.

Fixtures only (no `from conftest import`), so these tests run alongside tests/unit and
tests/contract, whose conftest modules have the same name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.people import Assignment, Device, RiskLevel, Subject
from tagwatch.domain.positions import Fix
from tagwatch.domain.zones import Circle, Zone, ZoneKind
from tagwatch.service.bootstrap import Services, bootstrap
from tagwatch.service.clock import FixedClock
from tagwatch.service.config import Config, MonitorSettings
from tagwatch.store import SecretHasher
from tagwatch.store.records import Alert, AlertAction

# A Monday in November (GMT), far from the clock changes.
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CENTRE = (-0.336, 51.752)  # lon, lat
METRES_PER_DEGREE_LAT = 111_320.0
TAG, SUBJECT, ZONE = "tag-1", "subject-1", "zone-1"
INSIDE, OUTSIDE = 0.0, 1000.0


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def exclusion_zone(zone_id: str = ZONE, radius_m: float = 200.0) -> Zone:
    return Zone(zone_id, SUBJECT, ZoneKind.EXCLUSION, Circle(*CENTRE, radius_m))


@dataclass
class World:
    TAG = TAG
    SUBJECT = SUBJECT
    ZONE = ZONE
    INSIDE = INSIDE
    OUTSIDE = OUTSIDE

    path: Path
    clock: FixedClock
    settings: MonitorSettings
    services: Services = field(init=False)

    def __post_init__(self) -> None:
        self.services = self.open()

    def open(self) -> Services:
        return bootstrap(
            Config(db_path=self.path, monitor=self.settings),
            clock=self.clock,
            hasher=SecretHasher.cheapest(),
        )

    def restart(self) -> Services:
        """Close the services and bootstrap new ones on the same file (a restart)."""
        self.services.close()
        self.services = self.open()
        return self.services

    @staticmethod
    def at(minute: float) -> datetime:
        return at(minute)

    @staticmethod
    def zone(zone_id: str = ZONE, radius_m: float = 200.0) -> Zone:
        return exclusion_zone(zone_id, radius_m)

    def fix(self, minute: float, north_m: float, *, accuracy_m: float = 10.0) -> Fix:
        lon, lat = CENTRE
        return Fix(TAG, at(minute), lat + north_m / METRES_PER_DEGREE_LAT, lon, accuracy_m)

    def track(self, start_minute: float, norths: Sequence[float]) -> list[Fix]:
        return [self.fix(start_minute + i, north) for i, north in enumerate(norths)]

    def send(self, fixes: Sequence[Fix]) -> int:
        return self.services.ingest.accept_batch(TAG, fixes, [])

    def drain(self, minute: float | None = None) -> int:
        """Step the monitor (at `minute` if given) until the inbox is empty."""
        if minute is not None:
            self.clock.set(at(minute))
        handled = self.services.monitor.run_once()
        while self.services.log.count_pending():
            handled += self.services.monitor.run_once()
        return handled

    def live(self, start_minute: float, norths: Sequence[float]) -> None:
        """One fix a minute, each sent and judged 5 s after its time."""
        for fix in self.track(start_minute, norths):
            self.clock.set(fix.fix_time + timedelta(seconds=5))
            self.send([fix])
            self.drain()

    def alerts(self) -> list[Alert]:
        return sorted(
            self.services.store.alerts.list_alerts(limit=1000).alerts, key=lambda a: a.created_at
        )

    def history(self, alert: Alert) -> list[AlertAction]:
        return self.services.store.alert_history.alert_history(alert.id)

    def actions(self, alert: Alert) -> list[str]:
        return [row.action for row in self.history(alert)]

    def episodes(self, rule: RuleKind = RuleKind.EXCLUSION) -> list[Episode]:
        return self.services.store.episodes.list_episodes(rules=[rule])


@pytest.fixture
def monitor_settings() -> MonitorSettings:
    return MonitorSettings(rules_check_s=3600.0, prune_every_s=0.0)


@pytest.fixture
def world(tmp_path: Path, monitor_settings: MonitorSettings) -> Iterator[World]:
    clock = FixedClock(T0)
    made = World(tmp_path / "tagwatch.db", clock, monitor_settings)
    store = made.services.store
    store.subjects.save_subject(Subject(SUBJECT, "Subject One", RiskLevel.MEDIUM))
    store.devices.save_device(Device(TAG))
    store.assignments.save_assignment(Assignment(TAG, SUBJECT, T0 - timedelta(days=3)))
    store.zones.save_zone(exclusion_zone())
    try:
        yield made
    finally:
        made.services.close()
