"""Per-device memory for one `evaluate` call: contact, positions, beacon, health.

No-comms and no-GPS are rules about silence, so they are judged here from the device's
latest contact, record and valid-position times rather than by the slot machines.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.engine.batch import FixBatch
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.health import HealthRecord, health_spans
from tagwatch.engine.history import History
from tagwatch.engine.machine import NO_TIME
from tagwatch.engine.publish import health_episode, merge
from tagwatch.engine.state import EngineState, EpisodeKey, Int64Array, SlotMemory

HEALTH_RULES = (
    RuleKind.STRAP_TAMPER,
    RuleKind.CASE_TAMPER,
    RuleKind.LOW_BATTERY,
    RuleKind.GPS_JAMMING,
)


@dataclass(slots=True)
class DeviceWork:
    latest_ms: Int64Array
    last_valid_ms: Int64Array
    last_record_ms: Int64Array
    last_contact_ms: Int64Array
    beacon: dict[int, tuple[tuple[int, bool], ...]]
    health_records: dict[int, tuple[HealthRecord, ...]]
    no_gps_since: dict[int, int]
    no_comms_since: dict[int, int]
    finalised: set[int]
    health_changed: set[int] = field(default_factory=set)
    first_contact: dict[int, int] = field(default_factory=dict)  # earliest contact this call
    ended_no_gps: list[tuple[int, int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, state: EngineState) -> DeviceWork:
        return cls(
            latest_ms=state.device_latest_ms.copy(),
            last_valid_ms=state.device_last_valid_ms.copy(),
            last_record_ms=state.device_last_record_ms.copy(),
            last_contact_ms=state.device_last_contact_ms.copy(),
            beacon=dict(state.beacon),
            health_records=dict(state.health_records),
            no_gps_since=dict(state.no_gps_since),
            no_comms_since=dict(state.no_comms_since),
            finalised=set(state.finalised_appointments),
        )

    def add_beacon(self, tag: int, time_ms: int, in_range: bool) -> bool:
        """Record a beacon report; True if it revises fixes already evaluated."""
        reports = list(self.beacon.get(tag, ()))
        report = (time_ms, in_range)
        index = bisect.bisect_left(reports, report)
        if index < len(reports) and reports[index] == report:
            return False
        reports.insert(index, report)
        self.beacon[tag] = tuple(reports)
        return time_ms <= int(self.latest_ms[tag])

    def touch(self, device: int, time_ms: int, received_ms: int) -> None:
        self.last_record_ms[device] = max(int(self.last_record_ms[device]), time_ms)
        self.last_contact_ms[device] = max(int(self.last_contact_ms[device]), received_ms)
        earliest = self.first_contact.get(device)
        self.first_contact[device] = received_ms if earliest is None else min(earliest, received_ms)

    def add_health(self, device: int, record: HealthRecord) -> None:
        records = list(self.health_records.get(device, ()))
        index = bisect.bisect_left(records, record)
        if index < len(records) and records[index] == record:
            return
        records.insert(index, record)
        self.health_records[device] = tuple(records)
        self.health_changed.add(device)

    def take_rows(self, batch: FixBatch, now_ms: int) -> None:
        if len(batch) == 0:
            return
        device = batch.device
        received = np.where(batch.received_ms >= 0, np.minimum(batch.received_ms, now_ms), now_ms)
        np.maximum.at(self.latest_ms, device, batch.time_ms)
        np.maximum.at(self.last_record_ms, device, batch.time_ms)
        np.maximum.at(self.last_contact_ms, device, received)
        valid = batch.valid
        for d, started in list(self.no_gps_since.items()):
            later = batch.time_ms[(device == d) & valid]
            later = later[later > started]
            if later.shape[0]:
                self.ended_no_gps.append((d, started, int(later.min())))
                del self.no_gps_since[d]
        np.maximum.at(self.last_valid_ms, device[valid], batch.time_ms[valid])
        for d in self.no_comms_since:
            mine = received[device == d]
            if mine.shape[0]:
                earliest = self.first_contact.get(d)
                first = int(mine.min())
                self.first_contact[d] = first if earliest is None else min(earliest, first)

    def keeps_machine(self, rules: CompiledRules, slot: int) -> bool:
        """Attendance slots keep their machine (arrival times) until the outcome is out."""
        return bool(rules.slot_attendance[slot]) and slot not in self.finalised

    def health_episodes(
        self,
        rules: CompiledRules,
        published: Mapping[EpisodeKey, tuple[Episode, ...]],
        now_ms: int,
        horizon_ms: int,
    ) -> Iterator[tuple[EpisodeKey, tuple[Episode, ...]]]:
        def make(d: int, rule: RuleKind, start: int, end: int | None) -> Episode:
            return health_episode(rules.device_ids[d], rules.device_subject[d], rule, start, end)

        for d in sorted(self.health_changed):
            spans = health_spans(self.health_records[d], rules.device_health[d])
            for rule in HEALTH_RULES:
                yield (
                    (d, rule.value),
                    tuple(
                        make(d, rule, span.start, span.end)
                        for span in spans
                        if span.rule is rule and (span.end is None or span.end >= horizon_ms)
                    ),
                )
        for d, started, ended in self.ended_no_gps:
            key = (d, RuleKind.NO_GPS.value)
            yield key, merge(published.get(key, ()), [make(d, RuleKind.NO_GPS, started, ended)])
        silent_gps = (self.last_record_ms - self.last_valid_ms >= rules.device_no_gps_ms) & (
            self.last_valid_ms > NO_TIME
        )
        for d in np.flatnonzero(silent_gps).tolist():
            if d not in self.no_gps_since:
                started = int(self.last_valid_ms[d])
                self.no_gps_since[d] = started
                key = (d, RuleKind.NO_GPS.value)
                yield key, merge(published.get(key, ()), [make(d, RuleKind.NO_GPS, started, None)])
        for d, started in list(self.no_comms_since.items()):
            contact = self.first_contact.get(d)
            if contact is not None and contact > started:
                del self.no_comms_since[d]
                key = (d, RuleKind.NO_COMMS.value)
                yield (
                    key,
                    merge(published.get(key, ()), [make(d, RuleKind.NO_COMMS, started, contact)]),
                )
        silent = (now_ms - self.last_contact_ms >= rules.device_no_comms_ms) & (
            self.last_contact_ms > NO_TIME
        )
        for d in np.flatnonzero(silent).tolist():
            if d not in self.no_comms_since:
                started = int(self.last_contact_ms[d])
                self.no_comms_since[d] = started
                key = (d, RuleKind.NO_COMMS.value)
                yield (
                    key,
                    merge(published.get(key, ()), [make(d, RuleKind.NO_COMMS, started, None)]),
                )

    def into_state(
        self,
        state: EngineState,
        *,
        slots: SlotMemory,
        base: SlotMemory,
        horizon_ms: int,
        history: History,
        published: Mapping[EpisodeKey, tuple[Episode, ...]],
    ) -> EngineState:
        return EngineState(
            slots=slots,
            base=base,
            horizon_ms=horizon_ms,
            history=history,
            device_latest_ms=self.latest_ms,
            device_last_valid_ms=self.last_valid_ms,
            device_last_record_ms=self.last_record_ms,
            device_last_contact_ms=self.last_contact_ms,
            beacon=self.beacon,
            health_records=self.health_records,
            no_gps_since=self.no_gps_since,
            no_comms_since=self.no_comms_since,
            finalised_appointments=frozenset(self.finalised),
            published=published,
            rules_shape=state.rules_shape,
        )
