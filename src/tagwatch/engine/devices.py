"""Per-device memory for one `evaluate` call: contact, positions, beacon, health.

No-comms and no-GPS are rules about silence, so they are judged here from the device's
latest contact, record and valid-position times rather than by the slot machines.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.engine.batch import FixBatch
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.health import HealthRecord, health_spans
from tagwatch.engine.history import History
from tagwatch.engine.machine import NO_TIME
from tagwatch.engine.publish import health_episode, merge
from tagwatch.engine.silence import SilenceSpan, no_gps_spans
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
    no_gps_since: dict[int, tuple[int, int]]  # device -> (start, confirmed at)
    no_comms_since: dict[int, int]
    finalised: set[int]
    health_changed: set[int] = field(default_factory=set)
    first_contact: dict[int, int] = field(default_factory=dict)  # earliest contact this call
    talk: dict[int, list[int]] = field(default_factory=dict)  # device event times this call
    late_talk: set[int] = field(default_factory=set)  # devices with events older than a record

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
        """A device event: the device talked at `time_ms`, reaching us at `received_ms`."""
        if time_ms < int(self.last_record_ms[device]):
            self.late_talk.add(device)
        self.talk.setdefault(device, []).append(time_ms)
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

    def take_contact(self, batch: FixBatch, now_ms: int) -> None:
        """Every record proves contact, even one too old to be judged."""
        if len(batch) == 0:
            return
        received = np.where(batch.received_ms >= 0, np.minimum(batch.received_ms, now_ms), now_ms)
        np.maximum.at(self.last_contact_ms, batch.device, received)
        for d in self.no_comms_since:
            mine = received[batch.device == d]
            if mine.shape[0]:
                earliest = self.first_contact.get(d)
                first = int(mine.min())
                self.first_contact[d] = first if earliest is None else min(earliest, first)

    def take_rows(self, batch: FixBatch) -> None:
        """`batch` sorted by (device, fix time): each device's last row is its newest, so
        one gather and one store per device replace a `np.maximum.at` over every row."""
        if len(batch) == 0:
            return
        device, time_ms = _newest_per_device(batch.device, batch.time_ms)
        self.latest_ms[device] = np.maximum(self.latest_ms[device], time_ms)
        self.last_record_ms[device] = np.maximum(self.last_record_ms[device], time_ms)
        valid = batch.valid
        if not valid.all():  # usually every row has a position: the same newest rows then
            if not valid.any():
                return
            device, time_ms = _newest_per_device(batch.device[valid], batch.time_ms[valid])
        self.last_valid_ms[device] = np.maximum(self.last_valid_ms[device], time_ms)

    def judge_no_gps(
        self,
        rules: CompiledRules,
        in_order: FixBatch,
        rejudged: FixBatch,
        published: Mapping[EpisodeKey, tuple[Episode, ...]],
    ) -> Iterator[tuple[EpisodeKey, tuple[Episode, ...]]]:
        """No-GPS episodes of devices with new records; call before `take_rows`.

        `rejudged` holds every kept row of the devices whose records arrived out of order:
        their episodes are derived again from all their records.
        """
        again = set(np.unique(rejudged.device).tolist())
        candidates = set(np.unique(in_order.device[~in_order.valid]).tolist())
        # Devices with an open no-GPS episode matter only if they sent rows now: a flag per
        # device answers that without a unique() over the whole batch.
        has_rows = np.zeros(self.latest_ms.shape[0], np.bool_)
        has_rows[in_order.device] = True
        candidates |= {d for d in self.no_gps_since if has_rows[d]}
        candidates |= set(self.talk)
        for d in sorted(candidates - again):
            mine = in_order.device == d
            times, valid = self._with_talk(
                in_order.time_ms[mine], in_order.valid[mine], self.talk.get(d, [])
            )
            spans: list[SilenceSpan] = []
            if d in self.no_gps_since:
                start, confirmed = self.no_gps_since[d]
                first_valid = np.flatnonzero(valid)
                if first_valid.shape[0] == 0:
                    continue
                cut = int(first_valid[0])
                spans.append(SilenceSpan(start, confirmed, int(times[cut])))
                del self.no_gps_since[d]
                times, valid = times[cut:], valid[cut:]
            elif self.last_valid_ms[d] > NO_TIME:
                times = np.concatenate([self.last_valid_ms[d : d + 1], times])
                valid = np.concatenate([np.ones(1, np.bool_), valid])
            spans += no_gps_spans(times, valid, int(rules.device_no_gps_ms[d]))
            key = self._no_gps_key(d)
            yield key, merge(published.get(key, ()), self._no_gps_episodes(rules, d, spans))
        for d in sorted(again):
            mine = rejudged.device == d
            self.no_gps_since.pop(d, None)
            talk = [record.time_ms for record in self.health_records.get(d, ())]
            times, valid = self._with_talk(rejudged.time_ms[mine], rejudged.valid[mine], talk)
            spans = no_gps_spans(times, valid, int(rules.device_no_gps_ms[d]))
            yield self._no_gps_key(d), tuple(self._no_gps_episodes(rules, d, spans))

    @staticmethod
    def _with_talk(
        times: Int64Array, valid: npt.NDArray[np.bool_], talk: list[int]
    ) -> tuple[Int64Array, npt.NDArray[np.bool_]]:
        """Records plus device events (which prove talking, not position), in time order."""
        if not talk:
            return times, valid
        all_times = np.concatenate([times, np.asarray(talk, np.int64)])
        all_valid = np.concatenate([valid, np.zeros(len(talk), np.bool_)])
        order = np.lexsort((~all_valid, all_times))
        return all_times[order], all_valid[order]

    @staticmethod
    def _no_gps_key(device: int) -> EpisodeKey:
        return (device, RuleKind.NO_GPS.value)

    def _no_gps_episodes(
        self, rules: CompiledRules, device: int, spans: list[SilenceSpan]
    ) -> list[Episode]:
        for span in spans:
            if span.end is None:
                self.no_gps_since[device] = (span.start, span.confirmed_at)
        return [
            health_episode(
                rules.device_ids[device],
                rules.device_subject[device],
                RuleKind.NO_GPS,
                span.start,
                span.end,
                span.confirmed_at,
            )
            for span in spans
        ]

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
        def make(
            d: int, rule: RuleKind, start: int, end: int | None, confirmed: int | None = None
        ) -> Episode:
            return health_episode(
                rules.device_ids[d], rules.device_subject[d], rule, start, end, confirmed
            )

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

        def threshold(d: int) -> int:
            return int(rules.device_no_comms_ms[d])

        for d, started in list(self.no_comms_since.items()):
            contact = self.first_contact.get(d)
            if contact is not None and contact > started:
                del self.no_comms_since[d]
                key = (d, RuleKind.NO_COMMS.value)
                yield (
                    key,
                    merge(
                        published.get(key, ()),
                        [make(d, RuleKind.NO_COMMS, started, contact, started + threshold(d))],
                    ),
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
                    merge(
                        published.get(key, ()),
                        [make(d, RuleKind.NO_COMMS, started, None, started + threshold(d))],
                    ),
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


def _newest_per_device(
    device: npt.NDArray[np.int32], time_ms: Int64Array
) -> tuple[npt.NDArray[np.int32], Int64Array]:
    """Each device's last row of rows sorted by (device, time): its newest time."""
    last = np.ones(device.shape[0], np.bool_)
    last[:-1] = device[1:] != device[:-1]
    return device[last], time_ms[last]
