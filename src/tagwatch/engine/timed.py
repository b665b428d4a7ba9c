"""Rules driven by the clock (`now`), not by fixes: appointments due.

(Episodes whose window ended close in `WorkingSlots.close_finished_windows`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tagwatch.domain.episodes import AttendanceOutcome, AttendanceOutcomeKind, Episode
from tagwatch.engine.advance import WorkingSlots
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.devices import DeviceWork
from tagwatch.engine.machine import NO_TIME
from tagwatch.engine.machines import WC_FIRST, WC_LAST
from tagwatch.engine.state import EpisodeKey
from tagwatch.engine.timebase import from_ms, to_ms


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
        [row] = work.table.rows_of([slot]).tolist()
        arrived = NO_TIME if row < 0 else int(work.table.ints[row, WC_FIRST])
        left = NO_TIME if row < 0 else int(work.table.ints[row, WC_LAST])
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
        if row >= 0 and work.table.at_rest()[row]:
            work.table.remove([slot])
    return outcomes
