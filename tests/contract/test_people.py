"""Subjects, devices and their secrets, assignments, orders."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from contractkit import T0, seed_subject

from tagwatch.domain.people import (
    Assignment,
    Device,
    DeviceKind,
    Order,
    OrderType,
    RiskLevel,
    Subject,
)
from tagwatch.store import ConflictError, MissingReferenceError, Store
from tagwatch.store.records import DeviceCredential

LONDON = ZoneInfo("Europe/London")


def test_subjects_round_trip_and_update_in_place(store: Store) -> None:
    alex = Subject("subject-2", "Alex", RiskLevel.VERY_HIGH, "PNC 12/345678A")
    store.subjects.save_subject(alex)
    store.subjects.save_subject(Subject("subject-1", "Sam"))
    assert store.subjects.get_subject("subject-2") == alex

    store.subjects.save_subject(Subject("subject-2", "Alex B.", RiskLevel.LOW))
    assert store.subjects.get_subject("subject-2") == Subject("subject-2", "Alex B.", RiskLevel.LOW)
    assert [s.id for s in store.subjects.list_subjects()] == ["subject-1", "subject-2"]
    assert store.subjects.get_subject("nobody") is None


def test_devices_round_trip(store: Store) -> None:
    hmu = Device("hmu-7", DeviceKind.HOME_MONITORING_UNIT, "teltonika", "hall cupboard")
    store.devices.save_device(hmu)
    store.devices.save_device(Device("356307042441013"))
    assert store.devices.get_device("hmu-7") == hmu
    assert [d.id for d in store.devices.list_devices()] == ["356307042441013", "hmu-7"]
    store.devices.save_device(Device("hmu-7", DeviceKind.HOME_MONITORING_UNIT, "osmand"))
    assert store.devices.get_device("hmu-7") == Device(
        "hmu-7", DeviceKind.HOME_MONITORING_UNIT, "osmand"
    )


def test_a_device_secret_verifies_only_when_right(store: Store) -> None:
    store.devices.save_device(Device("tag-1"))
    assert store.devices.verify_device_secret("tag-1", "anything") is False  # none set yet
    store.devices.set_device_secret("tag-1", "s3cret-one", now=T0)

    assert store.devices.verify_device_secret("tag-1", "s3cret-one") is True
    assert store.devices.verify_device_secret("tag-1", "s3cret-two") is False
    assert store.devices.verify_device_secret("tag-2", "s3cret-one") is False
    assert store.devices.device_credential("tag-1") == DeviceCredential("tag-1", T0)


def test_a_new_device_secret_replaces_the_old_one(store: Store) -> None:
    store.devices.save_device(Device("tag-1"))
    store.devices.set_device_secret("tag-1", "old", now=T0)
    store.devices.set_device_secret("tag-1", "new", now=T0 + timedelta(days=1))
    assert store.devices.verify_device_secret("tag-1", "old") is False
    assert store.devices.verify_device_secret("tag-1", "new") is True
    assert store.devices.device_credential("tag-1") == DeviceCredential(
        "tag-1", T0 + timedelta(days=1)
    )


def test_a_revoked_device_secret_no_longer_verifies(store: Store) -> None:
    store.devices.save_device(Device("tag-1"))
    store.devices.set_device_secret("tag-1", "s3cret", now=T0)
    assert store.devices.revoke_device_secret("tag-1") is True
    assert store.devices.revoke_device_secret("tag-1") is False
    assert store.devices.verify_device_secret("tag-1", "s3cret") is False
    assert store.devices.device_credential("tag-1") is None


def test_a_secret_for_an_unknown_device_is_refused(store: Store) -> None:
    with pytest.raises(MissingReferenceError):
        store.devices.set_device_secret("ghost", "s3cret", now=T0)


def test_the_current_assignment_covers_its_start_but_not_its_end(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0, end=T0 + timedelta(days=2))
    seed_subject(store, "subject-2", "tag-1", start=T0 + timedelta(days=2))

    assert store.assignments.current_assignment("tag-1", T0 - timedelta(microseconds=1)) is None
    first = store.assignments.current_assignment("tag-1", T0)
    assert first == Assignment("tag-1", "subject-1", T0, T0 + timedelta(days=2))
    last_moment = T0 + timedelta(days=2) - timedelta(microseconds=1)
    assert store.assignments.current_assignment("tag-1", last_moment) == first
    second = store.assignments.current_assignment("tag-1", T0 + timedelta(days=2))
    assert second is not None
    assert second.subject_id == "subject-2"
    assert store.assignments.current_assignment("tag-1", T0 + timedelta(days=400)) == second
    assert store.assignments.current_assignment("tag-9", T0) is None


def test_ending_an_assignment_closes_it_at_that_instant(store: Store) -> None:
    seed_subject(store, start=T0)
    ended = store.assignments.end_assignment("tag-1", at=T0 + timedelta(hours=5))
    assert ended == Assignment("tag-1", "subject-1", T0, T0 + timedelta(hours=5))
    assert store.assignments.current_assignment("tag-1", T0 + timedelta(hours=5)) is None
    assert store.assignments.current_assignment("tag-1", T0 + timedelta(hours=4)) == ended
    assert store.assignments.end_assignment("tag-1", at=T0 + timedelta(hours=6)) is None


def test_a_device_cannot_be_fitted_to_two_subjects_at_once(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0, end=T0 + timedelta(days=2))
    store.subjects.save_subject(Subject("subject-2", "Sam"))
    with pytest.raises(ConflictError):
        store.assignments.save_assignment(Assignment("tag-1", "subject-2", T0 + timedelta(days=1)))
    with pytest.raises(ConflictError):
        store.assignments.save_assignment(
            Assignment("tag-1", "subject-2", T0 - timedelta(days=1), T0 + timedelta(hours=1))
        )
    # Back to back is fine, and so is another device at the same time.
    store.assignments.save_assignment(Assignment("tag-1", "subject-2", T0 + timedelta(days=2)))
    seed_subject(store, "subject-2", "tag-2", start=T0)
    assert len(store.assignments.list_assignments(at=T0 + timedelta(days=3))) == 2


def test_an_assignment_needs_a_known_device_and_subject(store: Store) -> None:
    store.devices.save_device(Device("tag-1"))
    with pytest.raises(MissingReferenceError):
        store.assignments.save_assignment(Assignment("tag-1", "nobody", T0))
    store.subjects.save_subject(Subject("subject-1", "Alex"))
    with pytest.raises(MissingReferenceError):
        store.assignments.save_assignment(Assignment("ghost", "subject-1", T0))


def test_assignments_list_by_device_subject_and_instant(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0, end=T0 + timedelta(days=1))
    seed_subject(store, "subject-1", "hmu-1", start=T0)
    seed_subject(store, "subject-2", "tag-1", start=T0 + timedelta(days=1))

    by_subject = store.assignments.list_assignments(subject_id="subject-1")
    assert [(a.device_id, a.start) for a in by_subject] == [("hmu-1", T0), ("tag-1", T0)]
    by_device = store.assignments.list_assignments(device_id="tag-1")
    assert [a.subject_id for a in by_device] == ["subject-1", "subject-2"]
    later = store.assignments.list_assignments(at=T0 + timedelta(days=1, hours=1))
    assert [(a.device_id, a.subject_id) for a in later] == [
        ("hmu-1", "subject-1"),
        ("tag-1", "subject-2"),
    ]


def test_orders_round_trip_in_utc(store: Store) -> None:
    store.subjects.save_subject(Subject("subject-1", "Alex"))
    local_start = T0.astimezone(LONDON).replace(hour=9)
    order = Order(
        id="order-1",
        subject_id="subject-1",
        order_type=OrderType.HOME_DETENTION_CURFEW,
        start=local_start,
        end=local_start + timedelta(days=90),
        reference="HMP 2026/123",
        conditions=("curfew", "exclusion zone"),
    )
    store.orders.save_order(order)
    stored = store.orders.get_order("order-1")
    assert stored == order
    assert stored is not None
    assert stored.start.utcoffset() == timedelta(0)

    open_ended = Order("order-0", "subject-1", OrderType.COURT_BAIL, T0 - timedelta(days=9))
    store.orders.save_order(open_ended)
    assert store.orders.list_orders(subject_id="subject-1") == [open_ended, order]
    assert store.orders.list_orders(subject_id="subject-2") == []


def test_an_order_needs_a_known_subject(store: Store) -> None:
    with pytest.raises(MissingReferenceError):
        store.orders.save_order(Order("order-1", "nobody", OrderType.LICENCE, T0))
