"""Zones, curfews and appointments: every shape and schedule comes back equal."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from contractkit import ST_ALBANS, T0

from tagwatch.domain.people import Device, Order, OrderType, Subject
from tagwatch.domain.schedules import ExceptionMode, Schedule, ScheduleException, WeeklyWindow
from tagwatch.domain.zones import Appointment, Area, Circle, Corridor, Curfew, Shape, Zone, ZoneKind
from tagwatch.store import MissingReferenceError, Store

LONDON = ZoneInfo("Europe/London")
LON, LAT = ST_ALBANS

SQUARE = ((LON, LAT), (LON + 0.01, LAT), (LON + 0.01, LAT + 0.01), (LON, LAT + 0.01))
HOLE = ((LON + 0.004, LAT + 0.004), (LON + 0.006, LAT + 0.004), (LON + 0.005, LAT + 0.006))
CLOSED = (*SQUARE, SQUARE[0])

SHAPES: dict[str, Shape] = {
    "circle": Circle(LON, LAT, 250.0),
    "polygon": Area(((SQUARE,),)),
    "closed polygon with a hole": Area(((CLOSED, HOLE),)),
    "multipolygon": Area(
        (
            (SQUARE,),
            (((LON + 0.02, LAT), (LON + 0.03, LAT), (LON + 0.025, LAT + 0.01)),),
        )
    ),
    "corridor": Corridor(((LON, LAT), (LON + 0.01, LAT + 0.002), (LON + 0.02, LAT)), 35.5),
}

SCHEDULES: dict[str, Schedule] = {
    "always": Schedule(),
    "overnight every day": Schedule.every_day(time(19), time(7)),
    "weekly with dates and exceptions": Schedule.weekly(
        (
            WeeklyWindow(4, time(21, 30), time(6, 15)),
            WeeklyWindow(5, time(0), time(0)),
            WeeklyWindow(6, time(8, 0, 30, 250), time(17)),
        ),
        first_day=date(2026, 10, 1),
        last_day=date(2027, 3, 31),
        exceptions=(
            ScheduleException(
                T0.astimezone(LONDON).replace(hour=12),
                T0.astimezone(LONDON).replace(hour=15),
                ExceptionMode.LIFTED,
                "hospital appointment",
            ),
            ScheduleException(
                T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2), ExceptionMode.ADDED
            ),
        ),
        time_zone="Europe/Belfast",
    ),
}


@pytest.fixture
def subject(store: Store) -> str:
    store.subjects.save_subject(Subject("subject-1", "Alex"))
    store.orders.save_order(Order("order-1", "subject-1", OrderType.COMMUNITY_ORDER, T0))
    return "subject-1"


@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("schedule_name", list(SCHEDULES))
def test_a_zone_round_trips_with_its_shape_and_schedule(
    store: Store, subject: str, shape_name: str, schedule_name: str
) -> None:
    zone = Zone(
        id="zone-1",
        subject_id=subject,
        kind=ZoneKind.EXCLUSION,
        shape=SHAPES[shape_name],
        name="victim's street",
        order_id="order-1",
        warning_buffer_m=150.0,
        dwell_s=120.0,
        release_s=60.0,
        schedule=SCHEDULES[schedule_name],
    )
    store.zones.save_zone(zone)
    assert store.zones.get_zone("zone-1") == zone


def test_schedule_exception_instants_come_back_in_utc(store: Store, subject: str) -> None:
    schedule = SCHEDULES["weekly with dates and exceptions"]
    store.zones.save_zone(
        Zone("zone-1", subject, ZoneKind.INCLUSION, SHAPES["circle"], schedule=schedule)
    )
    stored = store.zones.get_zone("zone-1")
    assert stored is not None
    assert all(e.start.utcoffset() == timedelta(0) for e in stored.schedule.exceptions)
    assert stored.schedule.exceptions[0].start == schedule.exceptions[0].start


def test_saving_a_zone_again_updates_it(store: Store, subject: str) -> None:
    store.zones.save_zone(Zone("zone-1", subject, ZoneKind.EXCLUSION, SHAPES["circle"]))
    changed = Zone("zone-1", subject, ZoneKind.INCLUSION, SHAPES["corridor"], name="route")
    store.zones.save_zone(changed)
    assert store.zones.list_zones(subject_id=subject) == [changed]


def test_zones_list_by_subject_in_id_order_and_delete(store: Store, subject: str) -> None:
    store.subjects.save_subject(Subject("subject-2", "Sam"))
    for zone_id, owner in (("zone-b", subject), ("zone-a", subject), ("zone-c", "subject-2")):
        store.zones.save_zone(Zone(zone_id, owner, ZoneKind.EXCLUSION, SHAPES["circle"]))
    assert [z.id for z in store.zones.list_zones(subject_id=subject)] == ["zone-a", "zone-b"]
    assert [z.id for z in store.zones.list_zones()] == ["zone-a", "zone-b", "zone-c"]
    assert store.zones.delete_zone("zone-a") is True
    assert store.zones.delete_zone("zone-a") is False
    assert store.zones.get_zone("zone-a") is None


def test_a_zone_needs_a_known_subject_and_order(store: Store, subject: str) -> None:
    with pytest.raises(MissingReferenceError):
        store.zones.save_zone(Zone("zone-1", "nobody", ZoneKind.EXCLUSION, SHAPES["circle"]))
    with pytest.raises(MissingReferenceError):
        store.zones.save_zone(
            Zone("zone-1", subject, ZoneKind.EXCLUSION, SHAPES["circle"], order_id="order-9")
        )
    assert store.zones.list_zones() == []


@pytest.mark.parametrize("beacon", [None, "hmu-1"])
def test_a_curfew_round_trips(store: Store, subject: str, beacon: str | None) -> None:
    store.devices.save_device(Device("hmu-1"))
    curfew = Curfew(
        id="curfew-1",
        subject_id=subject,
        address=Circle(LON, LAT, 60.0),
        schedule=SCHEDULES["overnight every day"],
        order_id="order-1",
        beacon_device_id=beacon,
        dwell_s=600.0,
        release_s=30.0,
    )
    store.curfews.save_curfew(curfew)
    assert store.curfews.get_curfew("curfew-1") == curfew
    assert store.curfews.list_curfews(subject_id=subject) == [curfew]
    assert store.curfews.delete_curfew("curfew-1") is True
    assert store.curfews.list_curfews() == []


def test_an_appointment_round_trips(store: Store, subject: str) -> None:
    appointment = Appointment(
        id="appt-1",
        subject_id=subject,
        place=SHAPES["polygon"],
        start=T0.astimezone(LONDON).replace(hour=10, minute=30),
        end=T0.astimezone(LONDON).replace(hour=11, minute=30),
        grace_s=900.0,
        name="drug treatment session",
        order_id="order-1",
    )
    store.appointments.save_appointment(appointment)
    assert store.appointments.get_appointment("appt-1") == appointment
    assert store.appointments.delete_appointment("appt-1") is True
    assert store.appointments.get_appointment("appt-1") is None


def test_appointments_list_by_start_and_end(store: Store, subject: str) -> None:
    place = SHAPES["circle"]
    for i, day in enumerate((3, 1, 2)):
        start = T0 + timedelta(days=day)
        store.appointments.save_appointment(
            Appointment(f"appt-{i}", subject, place, start, start + timedelta(hours=1))
        )
    listed = store.appointments.list_appointments(subject_id=subject)
    assert [a.id for a in listed] == ["appt-1", "appt-2", "appt-0"]
    cutoff = T0 + timedelta(days=2, hours=1)  # exactly the end of appt-2: included
    later = store.appointments.list_appointments(ending_after=cutoff)
    assert [a.id for a in later] == ["appt-2", "appt-0"]
    assert store.appointments.list_appointments(subject_id="subject-2") == []
