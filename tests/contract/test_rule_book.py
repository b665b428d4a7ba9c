"""The RuleBook a store assembles for the engine."""

from __future__ import annotations

from datetime import time, timedelta

from contractkit import ST_ALBANS, T0, seed_subject

from tagwatch.domain.people import Order, OrderType
from tagwatch.domain.rules import EngineSettings, RuleBook, SubjectRules
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Appointment, Circle, Curfew, Zone, ZoneKind
from tagwatch.store import Store

HOME = Circle(*ST_ALBANS, 60.0)
PLACE = Circle(ST_ALBANS[0] + 0.02, ST_ALBANS[1], 80.0)


def _zone(zone_id: str, subject_id: str, order_id: str = "") -> Zone:
    return Zone(
        zone_id, subject_id, ZoneKind.EXCLUSION, Circle(*ST_ALBANS, 300.0), order_id=order_id
    )


def test_the_rule_book_holds_what_is_in_force_for_subjects_with_devices(store: Store) -> None:
    day = timedelta(days=1)
    # subject-1 wears a tag and has a home unit; one order in force, one ended.
    seed_subject(store, "subject-1", "tag-1", start=T0 - 10 * day)
    seed_subject(store, "subject-1", "hmu-1", start=T0 - 10 * day)
    store.orders.save_order(Order("o-now", "subject-1", OrderType.LICENCE, T0 - 5 * day))
    store.orders.save_order(
        Order("o-old", "subject-1", OrderType.COURT_BAIL, T0 - 60 * day, T0 - 5 * day)
    )
    store.orders.save_order(Order("o-future", "subject-1", OrderType.LICENCE, T0 + day))
    zones = [
        _zone("z-b-now", "subject-1", "o-now"),
        _zone("z-a-loose", "subject-1"),
        _zone("z-old", "subject-1", "o-old"),
        _zone("z-future", "subject-1", "o-future"),
    ]
    for zone in zones:
        store.zones.save_zone(zone)
    curfew = Curfew(
        "c-1", "subject-1", HOME, Schedule.every_day(time(19), time(7)), "o-now", "hmu-1"
    )
    store.curfews.save_curfew(curfew)
    soon = Appointment("a-soon", "subject-1", PLACE, T0 + day, T0 + day + timedelta(hours=1))
    just_missed = Appointment(
        "a-recent", "subject-1", PLACE, T0 - 2 * day, T0 - day, order_id="o-now"
    )
    long_ago = Appointment("a-ancient", "subject-1", PLACE, T0 - 9 * day, T0 - 8 * day)
    for appointment in (soon, just_missed, long_ago):
        store.appointments.save_appointment(appointment)
    # subject-2's tag came off yesterday; subject-3 is fitted but has no requirements yet.
    seed_subject(store, "subject-2", "tag-2", start=T0 - 9 * day, end=T0 - day)
    store.zones.save_zone(_zone("z-2", "subject-2"))
    seed_subject(store, "subject-3", "tag-3", start=T0)

    settings = EngineSettings(allowed_lateness_s=2 * 86400.0)
    book = store.rule_book(T0, settings=settings)

    assert book == RuleBook(
        (
            SubjectRules(
                "subject-1",
                ("hmu-1", "tag-1"),
                zones=(zones[1], zones[0]),
                curfews=(curfew,),
                appointments=(just_missed, soon),
            ),
            SubjectRules("subject-3", ("tag-3",)),
        ),
        settings,
    )


def test_the_rule_book_is_empty_without_assignments(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0 + timedelta(hours=1))
    assert store.rule_book(T0) == RuleBook(())
    assert [s.subject_id for s in store.rule_book(T0 + timedelta(hours=1)).subjects] == [
        "subject-1"
    ]


def test_the_rule_book_inside_a_transaction_sees_its_writes(store: Store) -> None:
    with store.transaction() as tx:
        seed_subject(tx, "subject-1", "tag-1", start=T0)
        assert [s.subject_id for s in tx.rule_book(T0).subjects] == ["subject-1"]
