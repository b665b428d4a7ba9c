"""Advance slot state through rows of fixes: classification in bulk, state machines only
where there is something to decide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tagwatch.engine.batch import FixBatch
from tagwatch.engine.compile import METRES_PER_DEGREE, CompiledRules, SlotRule
from tagwatch.engine.evidence import Evidence, evidence_codes
from tagwatch.engine.machine import SlotMachine, SlotParams

# Distances beyond accuracy + warning buffer + this only need their sign and a lower bound.
REACH_MARGIN_M = 1.0


@dataclass(slots=True)
class WorkingSlots:
    """A private, mutable copy of slot state for one `evaluate` call (copy-on-write)."""

    last_ms: npt.NDArray[np.int64]
    last_side: npt.NDArray[np.bool_]  # was the latest positioned fix on the violating side
    machines: dict[int, SlotMachine]
    original: Mapping[int, SlotMachine]
    touched: set[int] = field(default_factory=set)

    def machine(self, slot: int) -> SlotMachine:
        current = self.machines.get(slot)
        if current is None:
            current = SlotMachine(
                last_ms=int(self.last_ms[slot]), last_violating_side=bool(self.last_side[slot])
            )
            self.machines[slot] = current
        elif current is self.original.get(slot):
            current = current.clone()
            self.machines[slot] = current
        self.touched.add(slot)
        return current


@dataclass(frozen=True, slots=True)
class Warning:
    slot: int
    time_ms: int
    distance_m: float


def pairs_of(
    rules: CompiledRules, device: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """(row, slot) for every slot of every row's device, in row order."""
    starts = rules.device_slot_start[device]
    counts = rules.device_slot_start[device + 1] - starts
    pair_row = np.repeat(np.arange(device.shape[0]), counts)
    offsets = np.cumsum(counts) - counts
    pair_slot = np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))
    return pair_row, pair_slot


def clear_of_box(
    rules: CompiledRules,
    pair_slot: npt.NDArray[np.int64],
    rows: FixBatch,
    pair_row: npt.NDArray[np.intp],
    reach_m: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Pairs whose fix lies beyond its reach from the shape's lon/lat box (conservative)."""
    lat = rows.lat[pair_row]
    box = rules.slot_box_deg[pair_slot]
    # Metres to degrees with a 2 % allowance for the projection's scale and the ellipsoid.
    dlat = reach_m * (1.02 / METRES_PER_DEGREE)
    dlon = dlat / np.maximum(np.cos(np.radians(np.minimum(np.abs(lat), 89.0))), 1e-6)
    lon = rows.lon[pair_row]
    return (
        (lon < box[:, 0] - dlon)
        | (lon > box[:, 2] + dlon)
        | (lat < box[:, 1] - dlat)
        | (lat > box[:, 3] + dlat)
    )


def beacon_in_range(
    beacon: Mapping[int, tuple[tuple[int, bool], ...]],
    device: npt.NDArray[np.int32],
    time_ms: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Whether each tag's latest beacon report at or before the time said "in range"."""
    result = np.zeros(device.shape[0], np.bool_)
    for tag in np.unique(device):
        reports = beacon.get(int(tag))
        if not reports:
            continue
        times = np.array([report[0] for report in reports], np.int64)
        states = np.array([report[1] for report in reports], np.bool_)
        mine = device == tag
        index = np.searchsorted(times, time_ms[mine], side="right") - 1
        result[mine] = np.where(index >= 0, states[np.maximum(index, 0)], False)
    return result


def advance(
    rules: CompiledRules,
    work: WorkingSlots,
    rows: FixBatch,
    beacon: Mapping[int, tuple[tuple[int, bool], ...]],
    warn_rows: npt.NDArray[np.bool_] | None = None,
) -> list[Warning]:
    """Feed `rows` (sorted by device and time, each newer than the slot state) to the slots."""
    if len(rows) == 0 or rules.slot_count == 0:
        return []
    pair_row, pair_slot = pairs_of(rules, rows.device)
    if pair_row.shape[0] == 0:
        return []
    time_ms = rows.time_ms[pair_row]
    valid = rows.valid[pair_row]
    accuracy = rows.accuracy_m[pair_row]
    warning_m = rules.slot_warning_m[pair_slot]
    exclusion = rules.slot_side[pair_slot] == SlotRule.EXCLUSION
    reach = accuracy + warning_m + REACH_MARGIN_M
    margin = np.zeros(pair_row.shape[0])

    # Cheap test first: a fix well clear of an exclusion zone's box in degrees is compliant
    # whatever the schedule, with no projection or geometry (most fixes are kilometres
    # from every zone). The slot must be at rest, or its machine needs the real evidence.
    clear = valid & exclusion & clear_of_box(rules, pair_slot, rows, pair_row, reach)
    if work.machines:
        with_machine = np.zeros(rules.slot_count, np.bool_)
        with_machine[np.fromiter(work.machines.keys(), np.int64, len(work.machines))] = True
        clear &= ~with_machine[pair_slot]
    margin[clear] = -reach[clear]  # outside by at least the reach: all the rule needs

    judged = np.flatnonzero(valid & ~clear)
    active = np.ones(pair_row.shape[0], np.bool_)
    needs_schedule = np.flatnonzero(~clear)
    active[needs_schedule] = rules.schedules.active(
        rules.slot_schedule[pair_slot[needs_schedule]], time_ms[needs_schedule]
    )
    # Inactive pairs are measured too: where the subject was just before a window opens
    # decides whether a violation found at its first fix began when it opened.
    if judged.shape[0]:
        judged_rows = pair_row[judged]
        x, y = rules.projector.to_xy(rows.lon[judged_rows], rows.lat[judged_rows])
        judged_reach = reach[judged]
        distance = rules.shapes.signed_distance(
            rules.slot_shape[pair_slot[judged]], x, y, judged_reach
        )
        margin[judged] = np.where(exclusion[judged], distance, -distance)
        # Violating pairs beyond reach carry only a lower bound; episodes need the depth.
        far = np.abs(margin[judged]) > judged_reach
        deep = far & (margin[judged] > 0) & active[judged]
        if deep.any():
            exact = rules.shapes.exact_signed_distance(
                rules.slot_shape[pair_slot[judged[deep]]], x[deep], y[deep]
            )
            margin[judged[deep]] = np.where(exclusion[judged[deep]], exact, -exact)

    beacon_home = np.zeros(pair_row.shape[0], np.bool_)
    with_beacon = np.flatnonzero(rules.slot_beacon[pair_slot] & active)
    if with_beacon.shape[0] and beacon:
        beacon_home[with_beacon] = beacon_in_range(
            beacon, rows.device[pair_row[with_beacon]], time_ms[with_beacon]
        )
    code = evidence_codes(margin, accuracy, warning_m, active, valid, beacon_home)

    # Most slots are at rest and see nothing but compliance: advance those in bulk.
    # Attendance slots always run their machine: arrival times make the outcome.
    interesting = (code >= Evidence.WARNING) | (rules.slot_attendance[pair_slot] & active)
    # Flags over all slots rather than set operations: O(pairs), no sorting or hashing.
    busy_slot = np.zeros(rules.slot_count, np.bool_)
    busy_slot[pair_slot[interesting]] = True
    if work.machines:
        busy_slot[np.fromiter(work.machines.keys(), np.int64, len(work.machines))] = True
    busy = busy_slot[pair_slot]
    quiet = np.flatnonzero(~busy)
    if quiet.shape[0]:
        quiet_slot = pair_slot[quiet]
        np.maximum.at(work.last_ms, quiet_slot, time_ms[quiet])
        # A slot has one pair per fix time, so the pair at its latest time is unique.
        latest = quiet[(time_ms[quiet] == work.last_ms[quiet_slot]) & valid[quiet]]
        work.last_side[pair_slot[latest]] = margin[latest] > 0

    warnings: list[Warning] = []
    busy_pairs = np.flatnonzero(busy)
    if busy_pairs.shape[0] == 0:
        return warnings
    busy_pairs = busy_pairs[np.lexsort((time_ms[busy_pairs], pair_slot[busy_pairs]))]
    window_start, window_end = rules.schedules.interval_at(
        rules.slot_schedule[pair_slot[busy_pairs]], time_ms[busy_pairs]
    )
    settings = rules.settings
    params_cache: dict[int, SlotParams] = {}
    warn_pair = None if warn_rows is None else warn_rows[pair_row]
    for position, pair in enumerate(busy_pairs.tolist()):
        slot = int(pair_slot[pair])
        params = params_cache.get(slot)
        if params is None:
            params = SlotParams(
                dwell_ms=int(rules.slot_dwell_ms[slot]),
                release_ms=int(rules.slot_release_ms[slot]),
                confirmations=settings.confirmations,
                supported_confirmation=settings.supported_confirmation,
                decisive_margin_m=settings.decisive_margin_m,
                decisive_accuracy_multiple=settings.decisive_accuracy_multiple,
                max_gap_ms=round(settings.max_evidence_gap_s * 1000),
            )
            params_cache[slot] = params
        machine = work.machine(slot)
        warn = machine.step(
            int(time_ms[pair]),
            int(code[pair]),
            float(margin[pair]),
            float(accuracy[pair]),
            int(window_start[position]),
            int(window_end[position]),
            params,
        )
        work.last_ms[slot] = machine.last_ms
        work.last_side[slot] = machine.last_violating_side
        if warn and (warn_pair is None or warn_pair[pair]):
            warnings.append(Warning(slot, int(time_ms[pair]), float(-margin[pair])))
    return warnings
