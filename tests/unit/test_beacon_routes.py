"""Home beacons are published to their tag's partition: the table read from the store, and
its refresh after a change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from servicekit import Ticks
from tagwatch.domain.people import Assignment, Device, Subject
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Circle, Curfew
from tagwatch.service.clock import FixedClock
from tagwatch.service.routing import BeaconRoutes, beacon_table
from tagwatch.store import SecretHasher, SqliteStore

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOME = Circle(-0.336, 51.752, 60.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest())
    opened.open()
    with opened.transaction() as tx:
        for subject in ("s-1", "s-2"):
            tx.subjects.save_subject(Subject(subject, subject))
        for device in ("tag-1", "tag-2", "hmu-1", "tag-9"):
            tx.devices.save_device(Device(device))
        tx.assignments.save_assignment(Assignment("tag-1", "s-1", T0 - timedelta(days=3)))
        tx.assignments.save_assignment(Assignment("hmu-1", "s-1", T0 - timedelta(days=3)))
        tx.assignments.save_assignment(Assignment("tag-2", "s-2", T0 - timedelta(days=3)))
        curfew = Schedule.every_day(time(19), time(7))
        tx.curfews.save_curfew(Curfew("c-1", "s-1", HOME, curfew, beacon_device_id="hmu-1"))
        tx.curfews.save_curfew(Curfew("c-2", "s-2", HOME, curfew))  # no beacon
    try:
        yield opened
    finally:
        opened.close()


def test_a_curfews_beacon_goes_with_the_tag_fitted_to_its_subject(store: SqliteStore) -> None:
    # The beacon is itself assigned to the subject; it is not taken for the subject's tag.
    assert beacon_table(store, FixedClock(T0)) == {"hmu-1": "tag-1"}
    routes = BeaconRoutes(store, FixedClock(T0))
    assert [routes(d) for d in ("hmu-1", "tag-1", "tag-2", "nobody")] == [
        "tag-1",
        "tag-1",
        "tag-2",
        "nobody",
    ]


def test_a_tag_swap_reroutes_the_beacon_at_the_next_refresh(store: SqliteStore) -> None:
    clock, ticks = FixedClock(T0), Ticks()
    routes = BeaconRoutes(store, clock, refresh_s=30.0, monotonic=ticks)
    assert routes("hmu-1") == "tag-1"
    swap = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        tx.assignments.end_assignment("tag-1", at=swap)
        tx.assignments.save_assignment(Assignment("tag-9", "s-1", swap))
    clock.set(swap + timedelta(minutes=1))
    ticks.now = 10.0
    assert routes("hmu-1") == "tag-1"  # not re-read yet
    ticks.now = 31.0
    assert routes("hmu-1") == "tag-9"


def test_a_beacon_whose_subject_wears_no_tag_goes_to_its_own_partition(
    store: SqliteStore,
) -> None:
    with store.transaction() as tx:
        tx.assignments.end_assignment("tag-1", at=T0 - timedelta(hours=1))
    assert beacon_table(store, FixedClock(T0)) == {}
    assert BeaconRoutes(store, FixedClock(T0))("hmu-1") == "hmu-1"
