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
from tagwatch.engine.machine import Draft, Phase, SlotMachine
from tagwatch.engine.machines import (
    LAST_MS,
    LAST_SIDE,
    PHASE,
    SCALAR_BELOW,
    WINDOW_END,
    MachineTable,
    StepParams,
)

FloatArray = npt.NDArray[np.float64]

# Distances beyond accuracy + warning buffer + this only need their sign and a lower bound.
REACH_MARGIN_M = 1.0


@dataclass(slots=True)
class WorkingSlots:
    """A private, mutable copy of slot state for one `evaluate` call."""

    last_ms: npt.NDArray[np.int64]
    last_side: npt.NDArray[np.bool_]  # was the latest positioned fix on the violating side
    table: MachineTable  # machines of the busy slots; a copy the call may change
    touched: set[int] = field(default_factory=set)
    closed: dict[int, list[Draft]] = field(default_factory=dict)  # episodes ended this call

    def add_closed(self, closed: list[tuple[int, Draft]]) -> None:
        for slot, draft in closed:
            self.closed.setdefault(slot, []).append(draft)

    def close_finished_windows(self, now_ms: int) -> None:
        """An episode open in a window that has ended closes with the window."""
        table = self.table
        phase = table.ints[:, PHASE]
        due = np.flatnonzero(
            ((phase == Phase.VIOLATING) | (phase == Phase.RELEASING))
            & (table.ints[:, WINDOW_END] <= now_ms)
        )
        if due.shape[0]:
            closed: list[tuple[int, Draft]] = []
            table.close_window(due, closed)
            self.add_closed(closed)
            self.touched.update(table.slot[due].tolist())


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


def lon_degrees_per_metre(lat: FloatArray) -> FloatArray:
    """Degrees of longitude per metre at each latitude, with a 2 % allowance for the
    projection's scale and the ellipsoid (larger: boxes grown by it stay conservative)."""
    cos_lat = np.cos(np.radians(np.minimum(np.abs(lat), 89.0)))
    per_m: FloatArray = (1.02 / METRES_PER_DEGREE) / np.maximum(cos_lat, 1e-6)
    return per_m


def clear_of_box(
    rules: CompiledRules,
    pair_slot: npt.NDArray[np.int64],
    rows: FixBatch,
    pair_row: npt.NDArray[np.intp],
    reach_m: npt.NDArray[np.float64],
    lon_per_m: FloatArray | None = None,
) -> npt.NDArray[np.bool_]:
    """Pairs whose fix lies beyond its reach from the shape's lon/lat box (conservative).

    `lon_per_m`: `lon_degrees_per_metre` of each row, if already known.
    """
    if lon_per_m is None:
        lon_per_m = lon_degrees_per_metre(rows.lat)
    # Column by column: the box arrays are stored column-major, so each is one gather.
    box = rules.slot_box_deg
    dlat = reach_m * (1.02 / METRES_PER_DEGREE)
    dlon = reach_m * lon_per_m[pair_row]
    lon, lat = rows.lon[pair_row], rows.lat[pair_row]
    clear = lon < box[:, 0][pair_slot] - dlon
    clear |= lon > box[:, 2][pair_slot] + dlon
    clear |= lat < box[:, 1][pair_slot] - dlat
    clear |= lat > box[:, 3][pair_slot] + dlat
    return clear


def inside_inner_box(
    rules: CompiledRules,
    pair_slot: npt.NDArray[np.int64],
    rows: FixBatch,
    pair_row: npt.NDArray[np.intp],
    reach_m: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Pairs whose fix is inside the shape by more than its reach, by the inner lon/lat box."""
    box = rules.slot_inner_deg
    lon, lat = rows.lon[pair_row], rows.lat[pair_row]
    inside = reach_m <= rules.slot_inner_m[pair_slot]
    inside &= lon >= box[:, 0][pair_slot]
    inside &= lon <= box[:, 2][pair_slot]
    inside &= lat >= box[:, 1][pair_slot]
    inside &= lat <= box[:, 3][pair_slot]
    return inside


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

    # Cheap tests first, in degrees, with no projection or geometry: a fix well clear of an
    # exclusion zone's box, or well inside an inclusion zone's inner box, is compliant
    # whatever the schedule (most fixes are kilometres from every zone edge). The slot must
    # be at rest, or its machine needs the real evidence; attendance slots always need it.
    clear = np.zeros(pair_row.shape[0], np.bool_)
    candidate = valid
    if len(work.table):
        with_machine = np.zeros(rules.slot_count, np.bool_)
        with_machine[work.table.slot] = True
        candidate = candidate & ~with_machine[pair_slot]
    outer = np.flatnonzero(candidate & exclusion)
    if outer.shape[0]:
        clear[outer] = clear_of_box(
            rules,
            pair_slot[outer],
            rows,
            pair_row[outer],
            reach[outer],
            lon_degrees_per_metre(rows.lat),
        )
    # Only inclusion slots other than attendance have an inner box (depth > 0).
    inner = np.flatnonzero(candidate & (reach <= rules.slot_inner_m[pair_slot]))
    if inner.shape[0]:
        clear[inner] = inside_inner_box(
            rules, pair_slot[inner], rows, pair_row[inner], reach[inner]
        )
    # Outside an exclusion zone, or inside an inclusion zone, by at least the reach: all
    # the rule needs (the margin is measured towards the violating side). Their evidence
    # is COMPLIANT; everything below works on the other pairs only.
    margin = np.where(clear, -reach, 0.0)
    code = np.full(pair_row.shape[0], Evidence.COMPLIANT, np.int8)
    rest = np.flatnonzero(~clear)
    rest_slot, rest_time = pair_slot[rest], time_ms[rest]
    active = rules.schedules.active(rules.slot_schedule[rest_slot], rest_time)
    # Inactive pairs are measured too: where the subject was just before a window opens
    # decides whether a violation found at its first fix began when it opened.
    judged = np.flatnonzero(valid[rest])  # positions in `rest`
    if judged.shape[0]:
        pairs = rest[judged]
        # Each fix is projected once, however many of its slots need it.
        needed = np.zeros(len(rows), np.bool_)
        needed[pair_row[pairs]] = True
        projected = np.flatnonzero(needed)
        row_x, row_y = rules.projector.to_xy(rows.lon[projected], rows.lat[projected])
        at = np.searchsorted(projected, pair_row[pairs])
        x, y = row_x[at], row_y[at]
        judged_reach = reach[pairs]
        shape = rules.slot_shape[pair_slot[pairs]]
        distance, is_exact = rules.shapes.signed_distance_marked(shape, x, y, judged_reach)
        towards = np.where(exclusion[pairs], distance, -distance)
        # Violating pairs beyond reach carry only a lower bound (unless already exact);
        # episodes need the depth.
        deep = (towards > judged_reach) & active[judged] & ~is_exact
        if deep.any():
            exact = rules.shapes.exact_from_bound(shape[deep], x[deep], y[deep], distance[deep])
            towards[deep] = np.where(exclusion[pairs[deep]], exact, -exact)
        margin[pairs] = towards

    rest_valid = valid[rest]
    beacon_home = np.zeros(rest.shape[0], np.bool_)
    with_beacon = np.flatnonzero(rules.slot_beacon[rest_slot] & active)
    if with_beacon.shape[0] and beacon:
        beacon_home[with_beacon] = beacon_in_range(
            beacon, rows.device[pair_row[rest[with_beacon]]], rest_time[with_beacon]
        )
    rest_code = evidence_codes(
        margin[rest],
        accuracy[rest],
        warning_m[rest],
        active,
        rest_valid,
        beacon_home,
        rules.slot_confirm_radii[rest_slot],
    )
    code[rest] = rest_code

    # Most slots are at rest and see nothing but compliance: advance those in bulk.
    # Attendance slots always run their machine: arrival times make the outcome.
    interesting = (rest_code >= Evidence.WARNING) | (rules.slot_attendance[rest_slot] & active)
    # Flags over all slots rather than set operations: O(pairs), no sorting or hashing.
    busy_slot = np.zeros(rules.slot_count, np.bool_)
    busy_slot[rest_slot[interesting]] = True
    busy_slot[work.table.slot] = True
    busy_pairs = np.flatnonzero(busy_slot[pair_slot])
    if busy_pairs.shape[0]:
        busy_pairs = busy_pairs[np.lexsort((time_ms[busy_pairs], pair_slot[busy_pairs]))]
        # New machines start from the bulk state before this batch.
        work.table.ensure(np.unique(pair_slot[busy_pairs]), work.last_ms, work.last_side)
    # Advance every slot in bulk: right for the quiet ones, and the busy ones are
    # overwritten by their machines below. A slot has one pair per fix time, so the pair
    # at its latest time is unique.
    np.maximum.at(work.last_ms, pair_slot, time_ms)
    latest = np.flatnonzero((time_ms == work.last_ms[pair_slot]) & valid)
    work.last_side[pair_slot[latest]] = margin[latest] > 0
    if busy_pairs.shape[0] == 0:
        return []
    window_start, window_end = rules.schedules.interval_at(
        rules.slot_schedule[pair_slot[busy_pairs]], time_ms[busy_pairs]
    )
    warn = _step_machines(
        rules,
        work,
        pair_slot[busy_pairs],
        time_ms[busy_pairs],
        code[busy_pairs],
        margin[busy_pairs],
        accuracy[busy_pairs],
        window_start,
        window_end,
    )
    if warn_rows is not None:
        warn &= warn_rows[pair_row[busy_pairs]]
    due = busy_pairs[warn]  # in (slot, time) order
    return [
        Warning(slot, t, -distance)
        for slot, t, distance in zip(
            pair_slot[due].tolist(), time_ms[due].tolist(), margin[due].tolist(), strict=True
        )
    ]


def _step_machines(
    rules: CompiledRules,
    work: WorkingSlots,
    slot: npt.NDArray[np.int64],
    time_ms: npt.NDArray[np.int64],
    code: npt.NDArray[np.int8],
    margin: npt.NDArray[np.float64],
    accuracy: npt.NDArray[np.float64],
    window_start: npt.NDArray[np.int64],
    window_end: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Run the machines of busy slots over their pairs (sorted by slot, then time); True
    where an approach warning is due. Round k steps the k-th pair of every slot at once."""
    n = slot.shape[0]
    head = np.ones(n, np.bool_)
    head[1:] = slot[1:] != slot[:-1]
    heads = np.flatnonzero(head)
    rank = np.arange(n) - heads[np.cumsum(head) - 1]
    slots = slot[heads]
    table = work.table
    table.ensure(slots, work.last_ms, work.last_side)
    rows = table.rows_of(slot)
    settings = rules.settings
    params = StepParams(
        dwell_ms=rules.slot_dwell_ms[slot],
        release_ms=rules.slot_release_ms[slot],
        confirmations=settings.confirmations,
        supported_confirmation=settings.supported_confirmation,
        decisive_margin_m=settings.decisive_margin_m,
        decisive_accuracy_multiple=settings.decisive_accuracy_multiple,
        max_gap_ms=round(settings.max_evidence_gap_s * 1000),
    )
    warn = np.zeros(n, np.bool_)
    closed: list[tuple[int, Draft]] = []
    order = np.argsort(rank, kind="stable")  # round by round, slots ascending in each
    done = 0
    for count in np.bincount(rank).tolist():
        if count < SCALAR_BELOW:
            break
        k = order[done : done + count]
        warn[k] = table.step(
            rows[k],
            time_ms[k],
            code[k],
            margin[k],
            accuracy[k],
            window_start[k],
            window_end[k],
            StepParams(
                params.dwell_ms[k],
                params.release_ms[k],
                params.confirmations,
                params.supported_confirmation,
                params.decisive_margin_m,
                params.decisive_accuracy_multiple,
                params.max_gap_ms,
            ),
            closed,
        )
        done += count
    if done < n:
        # The last rounds have few slots (a long re-run of one device): the reference
        # machine in Python is faster there than numpy calls on a few elements.
        machines: dict[int, SlotMachine] = {}
        for i in np.sort(order[done:]).tolist():
            row = int(rows[i])
            machine = machines.get(row)
            if machine is None:
                machine = machines[row] = table.machine(row)
            warn[i] = machine.step(
                int(time_ms[i]),
                int(code[i]),
                float(margin[i]),
                float(accuracy[i]),
                int(window_start[i]),
                int(window_end[i]),
                params.scalar(i),
            )
        for row, machine in machines.items():
            slot_of_row = int(table.slot[row])
            closed += [(slot_of_row, d) for d in table.store(row, machine, changed=True)]
    work.add_closed(closed)
    final = rows[heads]
    work.last_ms[slots] = table.ints[final, LAST_MS]
    work.last_side[slots] = table.ints[final, LAST_SIDE] == 1
    work.touched.update(slots.tolist())
    return warn
