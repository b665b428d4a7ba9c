"""Everything the engine remembers between batches. Immutable from the caller's side:
`evaluate` returns a new state and leaves the one it was given as it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import Episode
from tagwatch.engine.compile import CompiledRules
from tagwatch.engine.health import HealthRecord
from tagwatch.engine.history import History
from tagwatch.engine.machine import NO_TIME
from tagwatch.engine.machines import MachineTable

# Location episodes are kept per slot (an int), device-health episodes per (device, rule).
EpisodeKey: TypeAlias = int | tuple[int, str]
Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SlotMemory:
    """Per-slot state: the latest evidence time of every slot, machines for busy ones.

    `machines` is never changed in place: `evaluate` works on a copy.
    """

    last_ms: Int64Array
    last_side: npt.NDArray[np.bool_]
    machines: MachineTable

    @classmethod
    def empty(cls, slots: int) -> SlotMemory:
        return cls(
            np.full(slots, NO_TIME, np.int64), np.zeros(slots, np.bool_), MachineTable.empty()
        )


@dataclass(frozen=True, slots=True)
class EngineState:
    slots: SlotMemory
    # The slot state at the lateness horizon: where a re-run after late data starts from.
    base: SlotMemory
    horizon_ms: int
    history: History
    device_latest_ms: Int64Array  # latest fix time evaluated
    device_last_valid_ms: Int64Array
    device_last_record_ms: Int64Array  # latest fix (valid or not) or event time
    device_last_contact_ms: Int64Array  # when the device last reached us
    beacon: Mapping[int, tuple[tuple[int, bool], ...]]  # tag -> (time, in range), sorted
    health_records: Mapping[int, tuple[HealthRecord, ...]]  # device -> sorted records
    no_gps_since: Mapping[int, tuple[int, int]]  # device -> open no-GPS (start, confirmed)
    no_comms_since: Mapping[int, int]
    finalised_appointments: frozenset[int]
    published: Mapping[EpisodeKey, tuple[Episode, ...]]  # as last reported to the caller
    rules_shape: tuple[int, int] = field(default=(0, 0))  # (devices, slots) it was made for

    @classmethod
    def empty(cls, rules: CompiledRules) -> EngineState:
        devices = rules.device_count

        def never() -> Int64Array:
            return np.full(devices, NO_TIME, np.int64)

        return cls(
            slots=SlotMemory.empty(rules.slot_count),
            base=SlotMemory.empty(rules.slot_count),
            horizon_ms=NO_TIME,
            history=History(),
            device_latest_ms=never(),
            device_last_valid_ms=never(),
            device_last_record_ms=never(),
            device_last_contact_ms=never(),
            beacon={},
            health_records={},
            no_gps_since={},
            no_comms_since={},
            finalised_appointments=frozenset(),
            published={},
            rules_shape=(devices, rules.slot_count),
        )

    def open_episodes(self) -> list[Episode]:
        return [ep for eps in self.published.values() for ep in eps if ep.end is None]

    def all_episodes(self) -> list[Episode]:
        return [ep for eps in self.published.values() for ep in eps]
