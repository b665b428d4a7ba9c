"""`evaluate`: one step of the engine over a batch of fixes and device events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from tagwatch.domain.episodes import (
    ApproachWarning,
    EngineEvent,
    Episode,
    EpisodeChange,
    EpisodeEvent,
    FixBeyondLateness,
)
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.engine.advance import WorkingSlots, advance
from tagwatch.engine.batch import FixBatch, row_keys
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.devices import DeviceWork
from tagwatch.engine.health import HealthRecord
from tagwatch.engine.machines import CHANGED
from tagwatch.engine.publish import changes, episode_from_draft, merge, reopened_if_changed
from tagwatch.engine.state import EngineState, EpisodeKey, SlotMemory
from tagwatch.engine.timebase import from_ms, to_ms
from tagwatch.engine.timed import finalise_appointments

HORIZON_STEP_MS = 15 * 60 * 1000
BEACON_KINDS = {DeviceEventKind.BEACON_IN_RANGE: True, DeviceEventKind.BEACON_OUT_OF_RANGE: False}


@dataclass(slots=True)
class Outcome:
    events: list[EngineEvent] = field(default_factory=list)
    published: dict[EpisodeKey, tuple[Episode, ...]] = field(default_factory=dict)

    def publish(
        self, key: EpisodeKey, new: tuple[Episode, ...], now: datetime, late_after_s: float
    ) -> None:
        old = self.published.get(key, ())
        self.events.extend(changes(old, new, now, late_after_s))
        if new:
            self.published[key] = new
        else:
            self.published.pop(key, None)


def evaluate(
    rules: CompiledRules,
    state: EngineState,
    fixes: FixBatch | Sequence[Fix],
    device_events: Sequence[DeviceEvent],
    now: datetime,
) -> tuple[EngineState, list[EngineEvent]]:
    """Judge a batch (any order, any batching, duplicates allowed) at time `now`."""
    if state.rules_shape != (rules.device_count, rules.slot_count):
        raise ValueError("engine state was made for other rules; rebuild it with the rules")
    settings = rules.settings
    now_ms = to_ms(now)
    # The horizon moves in steps: pruning the history is a pass over it, not worth doing for
    # every small batch. Between steps, fixes slightly older than the lateness still count.
    horizon_ms = state.horizon_ms
    wanted = now_ms - round(settings.allowed_lateness_s * 1000)
    if wanted - horizon_ms >= HORIZON_STEP_MS:
        horizon_ms = wanted
    if not isinstance(fixes, FixBatch):
        fixes = FixBatch.from_fixes(fixes, rules.device_index)
    batch = fixes.sorted_unique()
    outcome = Outcome(published=dict(state.published))

    devices = DeviceWork.of(state)
    devices.take_contact(batch, now_ms)
    beyond = batch.time_ms < horizon_ms
    outcome.events.extend(
        FixBeyondLateness(rules.device_ids[int(d)], from_ms(int(t)), now)
        for d, t in zip(batch.device[beyond], batch.time_ms[beyond], strict=True)
    )
    batch = batch.take(~beyond)
    replay = _take_device_events(rules, devices, device_events, now_ms)

    # A row no newer than its device's latest evaluated fix is late (or a duplicate).
    late = batch.time_ms <= devices.latest_ms[batch.device]
    if late.any():
        known = state.history.rows_for(np.unique(batch.device[late]))
        keys = row_keys(batch.device, batch.time_ms)
        seen = np.isin(keys, row_keys(known.device, known.time_ms))
        seen_valid = np.isin(keys, row_keys(known.device[known.valid], known.time_ms[known.valid]))
        # A duplicate is dropped, unless it brings the position the kept record lacked.
        batch = batch.take(~(seen & (~batch.valid | seen_valid)))
        late = batch.time_ms <= devices.latest_ms[batch.device]
    if late.any() or replay:
        replay_devices = np.union1d(
            np.unique(batch.device[late]), np.array(sorted(replay), np.int32)
        ).astype(np.int32)
    else:
        # The steady state: nothing to re-run. (numpy's unique on an empty array still
        # costs an import look-up per call.)
        replay_devices = np.empty(0, np.int32)
    # Usually nothing is re-run: no isin over the whole batch then.
    if replay_devices.shape[0]:
        in_order = ~np.isin(batch.device, replay_devices)
    else:
        in_order = np.ones(len(batch), np.bool_)

    work = WorkingSlots(
        state.slots.last_ms.copy(), state.slots.last_side.copy(), state.slots.machines.copy()
    )
    in_order_rows = batch.take(in_order)
    warnings = advance(rules, work, in_order_rows, devices.beacon)
    replayed_slots: set[int] = set()
    replayed_rows = FixBatch.empty()
    if replay_devices.shape[0]:
        replayed_slots = _reset_to_base(rules, work, state.base, replay_devices)
        fresh = batch.take(~in_order)
        replayed_rows = FixBatch.concat(
            [state.history.rows_for(replay_devices), fresh]
        ).sorted_unique()
        warn_rows = np.isin(
            row_keys(replayed_rows.device, replayed_rows.time_ms),
            row_keys(fresh.device, fresh.time_ms),
        )
        warnings += advance(rules, work, replayed_rows, devices.beacon, warn_rows)
    no_gps = list(devices.judge_no_gps(rules, in_order_rows, replayed_rows, state.published))
    history = state.history.append(batch)
    devices.take_rows(batch)

    for warning in warnings:
        info = rules.slot_info[warning.slot]
        outcome.events.append(
            ApproachWarning(
                info.device_id,
                info.subject_id,
                info.requirement_id,
                from_ms(warning.time_ms),
                round(warning.distance_m, 2),
                now,
                (now_ms - warning.time_ms) / 1000.0 > settings.late_after_s,
            )
        )
    work.close_finished_windows(now_ms)
    _publish_slots(rules, work, outcome, replayed_slots, devices, now)
    outcome.events.extend(finalise_appointments(rules, work, outcome.published, devices, now))
    for key, new_no_gps in no_gps:
        outcome.publish(key, new_no_gps, now, settings.late_after_s)
    for key, new_health in devices.health_episodes(rules, outcome.published, now_ms, horizon_ms):
        outcome.publish(key, new_health, now, settings.late_after_s)

    base = state.base
    if horizon_ms > state.horizon_ms and len(history):
        old_rows, history = history.split_before(horizon_ms)
        base = _advance_base(rules, base, old_rows, devices.beacon)
        for key, episodes in list(outcome.published.items()):
            kept = tuple(e for e in episodes if e.end is None or to_ms(e.end) >= horizon_ms)
            if kept:
                outcome.published[key] = kept
            else:
                del outcome.published[key]

    new_state = devices.into_state(
        state,
        slots=SlotMemory(work.last_ms, work.last_side, work.table),
        base=base,
        horizon_ms=horizon_ms,
        history=history,
        published=outcome.published,
    )
    return new_state, outcome.events


def _take_device_events(
    rules: CompiledRules, devices: DeviceWork, device_events: Sequence[DeviceEvent], now_ms: int
) -> set[int]:
    """Record device events; return the tags whose evaluated fixes a beacon report revises."""
    replay: set[int] = set()
    for event in sorted(device_events, key=lambda e: (e.time, e.device_id, e.kind.value)):
        time_ms = to_ms(event.time)
        device = rules.device_index.get(event.device_id)
        if event.kind in BEACON_KINDS:
            tags = set(rules.beacon_tags.get(event.device_id, ()))
            if device is not None:
                tags.add(device)
            for tag in tags:
                if devices.add_beacon(tag, time_ms, BEACON_KINDS[event.kind]):
                    replay.add(tag)
        if device is None:
            continue
        received = now_ms if event.received_at is None else min(to_ms(event.received_at), now_ms)
        devices.touch(device, time_ms, received)
        # Every event is kept: health kinds make tamper and battery episodes, and any
        # event proves the device talks (no-GPS).
        devices.add_health(device, HealthRecord(time_ms, event.kind, event.value))
    return replay


def _publish_slots(
    rules: CompiledRules,
    work: WorkingSlots,
    outcome: Outcome,
    replayed_slots: set[int],
    devices: DeviceWork,
    now: datetime,
) -> None:
    """Report the episodes of the slots this call touched; drop machines come to rest.

    A slot whose only episode is open and unchanged since it was last published (the
    table's CHANGED flag) would publish an equal episode: it is skipped.
    """
    table = work.table
    touched = np.array(sorted(work.touched), np.int64)
    rows = table.rows_of(touched)
    late_after_s = rules.settings.late_after_s
    has_row = rows >= 0
    # Only slots with a changed machine, closed episodes or a re-run can publish anything:
    # picked out with array operations, so the loop below runs over them alone (in slot
    # order, as before) rather than over every busy slot.
    due = np.zeros(touched.shape[0], np.bool_)
    due[has_row] = table.ints[rows[has_row], CHANGED] == 1
    others = [*work.closed, *replayed_slots]
    if others:
        due |= np.isin(touched, np.array(others, np.int64))
    due_rows = rows[due]
    drafts_of = table.open_drafts(due_rows)
    for slot, open_draft in zip(touched[due].tolist(), drafts_of, strict=True):
        closed = work.closed.pop(slot, [])
        if open_draft is not None and not closed and slot not in replayed_slots:
            # The common case: an open episode seen again. Same start, same identity.
            old = outcome.published.get(slot, ())
            if old and old[-1].end is None and old[-1].start == from_ms(open_draft.start):
                episode = reopened_if_changed(old[-1], open_draft)
                if episode is not None:
                    outcome.events.append(EpisodeEvent(EpisodeChange.UPDATED, episode, now, False))
                    outcome.published[slot] = (*old[:-1], episode)
                continue
        drafts = closed if open_draft is None else [*closed, open_draft]
        info = rules.slot_info[slot]
        found = [episode_from_draft(info, draft) for draft in drafts]
        if slot in replayed_slots:
            new = tuple(sorted(found, key=lambda episode: episode.start))
        else:
            new = merge(outcome.published.get(slot, ()), found)
        outcome.publish(slot, new, now, late_after_s)
    if touched.shape[0] == 0:
        return
    table.ints[rows[has_row], CHANGED] = 0
    # Machines come to rest are dropped, except attendance slots still awaiting an outcome.
    mine = rows[has_row]
    rest = mine[table.at_rest()[mine]]
    if rest.shape[0]:
        keep = np.array(
            [devices.keeps_machine(rules, int(s)) for s in table.slot[rest].tolist()], np.bool_
        )
        table.remove(table.slot[rest[~keep]])


def _reset_to_base(
    rules: CompiledRules, work: WorkingSlots, base: SlotMemory, devices: np.ndarray
) -> set[int]:
    """Put the slots of `devices` back to the horizon, ready to re-run their kept history."""
    starts = rules.device_slot_start[devices]
    counts = rules.device_slot_start[devices + 1] - starts
    slots = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    work.last_ms[slots] = base.last_ms[slots]
    work.last_side[slots] = base.last_side[slots]
    work.table.take_from(base.machines, slots)
    # Base machines are at most as changed as published; the re-run publishes them anyway.
    for slot in slots.tolist():
        work.closed.pop(slot, None)
    work.touched.update(slots.tolist())
    return set(slots.tolist())


def _advance_base(
    rules: CompiledRules,
    base: SlotMemory,
    rows: FixBatch,
    beacon: dict[int, tuple[tuple[int, bool], ...]],
) -> SlotMemory:
    """Move the horizon state forward over rows that can no longer be revised."""
    work = WorkingSlots(base.last_ms.copy(), base.last_side.copy(), base.machines.copy())
    advance(rules, work, rows, beacon)
    # Closed episodes are final (work.closed is dropped); machines come to rest go.
    table = work.table
    touched = table.rows_of(np.array(sorted(work.touched), np.int64))
    touched = touched[touched >= 0]
    table.remove(table.slot[touched[table.at_rest()[touched]]])
    return SlotMemory(work.last_ms, work.last_side, table)
