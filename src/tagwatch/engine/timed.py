"""Rules driven by the clock (`now`), not by fixes: windows that ended, appointments due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tagwatch.domain.episodes import AttendanceOutcome, AttendanceOutcomeKind, Episode
from tagwatch.engine.advance import WorkingSlots
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.devices import DeviceWork
from tagwatch.engine.machine import NO_TIME, Phase
from tagwatch.engine.state import EpisodeKey
from tagwatch.engine.timebase import from_ms, to_ms


def close_finished_windows(work: WorkingSlots, now_ms: int) -> None:
    """An episode open in a window that has ended closes with the window."""
    for slot, machine in list(work.machines.items()):
        if machine.phase in (Phase.VIOLATING, Phase.RELEASING) and machine.window_end <= now_ms:
            work.machine(slot).close_window()


def finalise_appointments(
    rules: CompiledRules,
    work: WorkingSlots,
    published: Mapping[EpisodeKey, tuple[Episode, ...]],
    devices: DeviceWork,
    now: datetime,
) -> list[AttendanceOutcome]:
    """Once an appointment is over, record whether it was attended, missed or cut short."""
    now_ms = to_ms(now)
    outcomes: list[AttendanceOutcome] = []
    for slot in rules.attendance_slots:
        info = rules.slot_info[slot]
        appointment = info.appointment
        if slot in devices.finalised or appointment is None or to_ms(appointment.end) > now_ms:
            continue
        devices.finalised.add(slot)
        machine = work.machines.get(slot)
        arrived = NO_TIME if machine is None else machine.window_compliant_first
        left = NO_TIME if machine is None else machine.window_compliant_last
        violations = [
            e for e in published.get(slot, ()) if appointment.start <= e.start <= appointment.end
        ]
        if arrived == NO_TIME:
            kind = AttendanceOutcomeKind.MISSED
        elif violations:
            kind = AttendanceOutcomeKind.CUT_SHORT
        else:
            kind = AttendanceOutcomeKind.ATTENDED
        outcomes.append(
            AttendanceOutcome(
                appointment_id=appointment.id,
                device_id=info.device_id,
                subject_id=info.subject_id,
                outcome=kind,
                arrived_at=None if arrived == NO_TIME else from_ms(arrived),
                left_at=None
                if left == NO_TIME or kind is not AttendanceOutcomeKind.CUT_SHORT
                else from_ms(left),
                detected_at=now,
            )
        )
        if machine is not None and machine.at_rest:
            work.machines.pop(slot, None)
    return outcomes
