"""Assemble the engine's RuleBook from what a store holds, the same way for every store.

A subject is monitored at `at` if some device is assigned to them at `at`; their
`device_ids` are those devices. A zone, curfew or appointment applies if it belongs to no
order (`order_id == ""`) or to an order in force at `at`. Appointments that ended more than
the allowed lateness before `at` are left out: no late fix can still change their outcome.
Subjects, devices and requirements are sorted by id, so the same data gives an equal book.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tagwatch.domain.rules import EngineSettings, RuleBook, SubjectRules

if TYPE_CHECKING:
    from tagwatch.store.contract import UnitOfWork


def build_rule_book(
    uow: UnitOfWork, at: datetime, settings: EngineSettings | None = None
) -> RuleBook:
    if at.tzinfo is None:
        raise ValueError("rule_book needs a time-zone-aware instant")
    settings = settings if settings is not None else EngineSettings()

    devices: defaultdict[str, set[str]] = defaultdict(set)
    for assignment in uow.assignments.list_assignments(at=at):
        devices[assignment.subject_id].add(assignment.device_id)
    if not devices:
        return RuleBook((), settings)

    orders = {order.id: order for order in uow.orders.list_orders()}

    def applies(subject_id: str, order_id: str) -> bool:
        if subject_id not in devices:
            return False
        if not order_id:
            return True
        order = orders.get(order_id)
        return order is not None and order.in_force(at)

    zones = defaultdict(list)
    for zone in uow.zones.list_zones():
        if applies(zone.subject_id, zone.order_id):
            zones[zone.subject_id].append(zone)
    curfews = defaultdict(list)
    for curfew in uow.curfews.list_curfews():
        if applies(curfew.subject_id, curfew.order_id):
            curfews[curfew.subject_id].append(curfew)
    appointments = defaultdict(list)
    oldest = at - timedelta(seconds=settings.allowed_lateness_s)
    for appointment in uow.appointments.list_appointments(ending_after=oldest):
        if applies(appointment.subject_id, appointment.order_id):
            appointments[appointment.subject_id].append(appointment)

    return RuleBook(
        tuple(
            SubjectRules(
                subject_id=subject_id,
                device_ids=tuple(sorted(devices[subject_id])),
                zones=tuple(sorted(zones[subject_id], key=lambda z: z.id)),
                curfews=tuple(sorted(curfews[subject_id], key=lambda c: c.id)),
                appointments=tuple(sorted(appointments[subject_id], key=lambda a: a.id)),
            )
            for subject_id in sorted(devices)
        ),
        settings,
    )
