"""A RuleBook compiled into flat arrays, built once and kept between batches.

Every (device, requirement) pair is a *slot*; slots are grouped by device so that the
pairs of a batch are found with one `np.repeat` (a CSR layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.rules import EngineSettings, HealthPolicy, RuleBook
from tagwatch.domain.schedules import ExceptionMode, Schedule, ScheduleException
from tagwatch.domain.zones import Appointment, Circle, Corridor, Shape, ZoneKind
from tagwatch.engine.batch import MAX_DEVICES
from tagwatch.engine.geometry import CompiledShapes, compile_shapes, shape_vertices
from tagwatch.engine.inner_box import inner_boxes
from tagwatch.engine.projection import Projector, choose_crs
from tagwatch.engine.schedule import ScheduleTable
from tagwatch.engine.timebase import to_ms

METRES_PER_DEGREE = 110_574.0  # of latitude at the equator: the smallest, so conservative
NEVER_RELEASED_MS = np.iinfo(np.int64).max // 4


class SlotRule(IntEnum):
    """Which side of a boundary is the violating one."""

    EXCLUSION = 0  # inside violates
    INCLUSION = 1  # outside violates (inclusion zones, curfews, appointments)


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What an episode of a slot is called."""

    device_id: str
    subject_id: str
    rule: RuleKind
    requirement_id: str
    appointment: Appointment | None = None


@dataclass(frozen=True, slots=True)
class CompiledRules:
    settings: EngineSettings
    device_ids: tuple[str, ...]
    device_index: dict[str, int]
    device_subject: tuple[str, ...]
    device_health: tuple[HealthPolicy, ...]
    device_no_gps_ms: npt.NDArray[np.int64]
    device_no_comms_ms: npt.NDArray[np.int64]
    # Slots, sorted by device.
    slot_info: tuple[SlotInfo, ...]
    slot_device: npt.NDArray[np.int32]
    slot_side: npt.NDArray[np.int8]  # SlotRule
    slot_shape: npt.NDArray[np.int32]
    slot_box_deg: npt.NDArray[np.float64]  # (slots, 4): lon/lat box of the shape, grown
    # (slots, 4): a lon/lat box inside the shape by at least slot_inner_m; NaN and 0 for
    # slots without one, which includes every exclusion and attendance slot.
    slot_inner_deg: npt.NDArray[np.float64]
    slot_inner_m: npt.NDArray[np.float64]
    slot_schedule: npt.NDArray[np.int32]
    slot_dwell_ms: npt.NDArray[np.int64]
    slot_release_ms: npt.NDArray[np.int64]
    slot_warning_m: npt.NDArray[np.float64]
    slot_beacon: npt.NDArray[np.bool_]  # curfew satisfied by the home beacon in range
    slot_attendance: npt.NDArray[np.bool_]
    # How many of its accuracy radii a fix must lie on the violating side to confirm.
    slot_confirm_radii: npt.NDArray[np.float64]
    attendance_slots: tuple[int, ...]
    device_slot_start: npt.NDArray[np.int64]  # CSR offsets, len = devices + 1
    shapes: CompiledShapes
    schedules: ScheduleTable
    projector: Projector
    # Beacon (home monitoring unit) device id -> the tag devices whose curfew it serves.
    beacon_tags: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def slot_count(self) -> int:
        return int(self.slot_device.shape[0])

    @property
    def device_count(self) -> int:
        return len(self.device_ids)


def _appointment_schedule(appointment: Appointment) -> Schedule:
    """Active from start + grace to end: being absent then is a violation."""
    opens = appointment.start + timedelta(seconds=appointment.grace_s)
    closes = max(appointment.end, opens + timedelta(seconds=1))
    return Schedule(
        always=False,
        exceptions=(ScheduleException(opens, closes, ExceptionMode.ADDED, "appointment"),),
    )


def compile_rules(book: RuleBook) -> CompiledRules:
    settings = book.settings
    device_ids: list[str] = []
    device_index: dict[str, int] = {}
    device_subject: list[str] = []
    device_health: list[HealthPolicy] = []
    shapes: list[Shape] = []
    schedules: list[Schedule] = []
    rows: list[tuple[int, int, int, int, float, float, float, bool, SlotInfo]] = []
    beacon_tags: dict[str, list[int]] = {}

    for subject in book.subjects:
        for device_id in subject.device_ids:
            if device_id in device_index:
                raise ValueError(f"device {device_id} is assigned to more than one subject")
            device = len(device_ids)
            device_index[device_id] = device
            device_ids.append(device_id)
            device_subject.append(subject.subject_id)
            device_health.append(subject.health)

            def add(
                side: SlotRule,
                shape: Shape,
                schedule: Schedule,
                dwell_s: float,
                release_s: float,
                warning_m: float,
                beacon: bool,
                info: SlotInfo,
                device: int = device,
            ) -> None:
                shapes.append(shape)
                schedules.append(schedule)
                rows.append(
                    (
                        device,
                        int(side),
                        len(shapes) - 1,
                        len(schedules) - 1,
                        dwell_s,
                        release_s,
                        warning_m,
                        beacon,
                        info,
                    )
                )

            for zone in subject.zones:
                exclusion = zone.kind is ZoneKind.EXCLUSION
                add(
                    SlotRule.EXCLUSION if exclusion else SlotRule.INCLUSION,
                    zone.shape,
                    zone.schedule,
                    zone.dwell_s,
                    zone.release_s,
                    zone.warning_buffer_m if exclusion else 0.0,
                    False,
                    SlotInfo(
                        device_id,
                        subject.subject_id,
                        RuleKind.EXCLUSION if exclusion else RuleKind.INCLUSION,
                        zone.id,
                    ),
                )
            for curfew in subject.curfews:
                add(
                    SlotRule.INCLUSION,
                    curfew.address,
                    curfew.schedule,
                    curfew.dwell_s,
                    curfew.release_s,
                    0.0,
                    curfew.beacon_device_id is not None,
                    SlotInfo(device_id, subject.subject_id, RuleKind.CURFEW, curfew.id),
                )
                if curfew.beacon_device_id is not None:
                    beacon_tags.setdefault(curfew.beacon_device_id, []).append(device)
            for appointment in subject.appointments:
                # One appointment is one outcome: absence is never "released" mid-way, so
                # leaving and coming back stays one violation.
                add(
                    SlotRule.INCLUSION,
                    appointment.place,
                    _appointment_schedule(appointment),
                    0.0,
                    NEVER_RELEASED_MS / 1000.0,
                    0.0,
                    False,
                    SlotInfo(
                        device_id,
                        subject.subject_id,
                        RuleKind.ATTENDANCE,
                        appointment.id,
                        appointment,
                    ),
                )

    if len(device_ids) > MAX_DEVICES:
        raise ValueError(f"one engine judges at most {MAX_DEVICES} devices; partition them")
    slot_device = np.array([row[0] for row in rows], np.int32)
    shape_index = np.array([row[2] for row in rows], np.int32)
    vertices = shape_vertices(shapes)
    projector = Projector(choose_crs(settings.crs, vertices[:, 0], vertices[:, 1]))
    compiled_shapes = compile_shapes(shapes, projector)
    # Inner boxes serve inclusion slots (an exclusion zone's inside is never compliant);
    # attendance slots always run their machine, so they need none either.
    inclusion = np.array(
        [row[1] == SlotRule.INCLUSION and row[8].rule is not RuleKind.ATTENDANCE for row in rows],
        np.bool_,
    )
    wanted = np.zeros(len(shapes), np.bool_)
    wanted[shape_index[inclusion]] = True
    inner_deg, inner_m = inner_boxes(compiled_shapes, projector, wanted)
    counts = (
        np.bincount(slot_device, minlength=len(device_ids))
        if rows
        else np.zeros(len(device_ids), np.int64)
    )
    device_slot_start = np.zeros(len(device_ids) + 1, np.int64)
    np.cumsum(counts, out=device_slot_start[1:])
    return CompiledRules(
        settings=settings,
        device_ids=tuple(device_ids),
        device_index=device_index,
        device_subject=tuple(device_subject),
        device_health=tuple(device_health),
        device_no_gps_ms=np.array(
            [round(h.no_gps_after_s * 1000) for h in device_health], np.int64
        ),
        device_no_comms_ms=np.array(
            [round(h.no_comms_after_s * 1000) for h in device_health], np.int64
        ),
        slot_info=tuple(row[8] for row in rows),
        slot_device=slot_device,
        slot_side=np.array([row[1] for row in rows], np.int8),
        slot_shape=shape_index,
        # Column-major: the engine gathers one column at a time.
        slot_box_deg=np.asfortranarray(
            np.array([degree_box(shape) for shape in shapes], np.float64).reshape(-1, 4)
        ),
        slot_inner_deg=np.asfortranarray(inner_deg[shape_index].reshape(-1, 4)),
        slot_inner_m=inner_m[shape_index],
        slot_schedule=np.array([row[3] for row in rows], np.int32),
        slot_dwell_ms=np.array([round(row[4] * 1000) for row in rows], np.int64),
        slot_release_ms=np.array([round(row[5] * 1000) for row in rows], np.int64),
        slot_warning_m=np.array([row[6] for row in rows], np.float64),
        slot_beacon=np.array([row[7] for row in rows], np.bool_),
        slot_attendance=np.array([row[8].rule is RuleKind.ATTENDANCE for row in rows], np.bool_),
        slot_confirm_radii=np.array(
            [
                settings.curfew_confirm_radii if row[8].rule is RuleKind.CURFEW else 1.0
                for row in rows
            ],
            np.float64,
        ),
        attendance_slots=tuple(
            i for i, row in enumerate(rows) if row[8].rule is RuleKind.ATTENDANCE
        ),
        device_slot_start=device_slot_start,
        shapes=compiled_shapes,
        schedules=ScheduleTable(schedules),
        projector=projector,
        beacon_tags={key: tuple(value) for key, value in beacon_tags.items()},
    )


def degree_box(shape: Shape) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) holding the shape, with room to spare.

    Grown by 50 m and 2 % so that the projected shape (whose edges bend slightly against
    the lon/lat grid) stays inside: the box only ever rules fixes *out*.
    """
    if isinstance(shape, Circle):
        points = [(shape.lon, shape.lat)]
        grow_m = shape.radius_m
    elif isinstance(shape, Corridor):
        points = list(shape.path)
        grow_m = shape.half_width_m
    else:
        points = [point for polygon in shape.polygons for point in polygon[0]]
        grow_m = 0.0
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    lat_extent = (max(lats) - min(lats)) * 0.02
    lon_extent = (max(lons) - min(lons)) * 0.02
    dlat = (grow_m * 1.02 + 50.0) / METRES_PER_DEGREE + lat_extent
    widest = min(max(abs(min(lats)), abs(max(lats))) + dlat, 89.0)
    dlon = dlat / max(math.cos(math.radians(widest)), 1e-6) + lon_extent
    return (min(lons) - dlon, min(lats) - dlat, max(lons) + dlon, max(lats) + dlat)


def appointment_end_ms(info: SlotInfo) -> int:
    assert info.appointment is not None  # noqa: S101 - only called for attendance slots
    return to_ms(info.appointment.end)
