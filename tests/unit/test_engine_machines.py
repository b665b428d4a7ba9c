"""The vectorised machine table steps exactly like the reference `SlotMachine`.

`MachineTable.step` advances many slots at once with numpy; `SlotMachine.step` is the
scalar reference the engine's episode rules were written and tuned with. On random
evidence streams (every code, margins of either sign, accuracies, window changes, gaps
longer than the evidence gap, all parameter mixes) both must reach the same state after
every step, ask for the same approach warnings and close the same episodes, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tagwatch.engine.evidence import Evidence
from tagwatch.engine.machine import NO_TIME, Draft, Phase, SlotMachine, SlotParams
from tagwatch.engine.machines import CHANGED, MachineTable, StepParams


@dataclass(frozen=True)
class Fact:
    """One step's input for one slot."""

    gap_ms: int
    code: int
    margin_m: float
    accuracy_m: float
    window: int  # which of a few windows the fix falls in


WINDOWS = [(0, 10**13), (5_000, 10**13), (-(2**62), 2**62), (7_000, 8_000)]

facts = st.builds(
    Fact,
    gap_ms=st.sampled_from([0, 1_000, 30_000, 60_000, 120_000, 700_000]),
    code=st.sampled_from(list(Evidence)),
    margin_m=st.one_of(
        st.floats(-500.0, 500.0, allow_nan=False),
        st.sampled_from([0.0, -0.0, 1e-9, 75.0, 120.0, 600.0]),
    ),
    accuracy_m=st.floats(0.0, 120.0, allow_nan=False),
    window=st.integers(0, len(WINDOWS) - 1),
)
slot_params = st.builds(
    SlotParams,
    dwell_ms=st.sampled_from([0, 60_000, 300_000]),
    release_ms=st.sampled_from([0, 60_000, 180_000, 10**15]),
    confirmations=st.integers(1, 3),
    supported_confirmation=st.integers(1, 4),
    decisive_margin_m=st.sampled_from([0.0, 75.0]),
    decisive_accuracy_multiple=st.sampled_from([1.0, 6.0]),
    max_gap_ms=st.just(600_000),
)


def shared(params: list[SlotParams]) -> list[SlotParams]:
    """Everything but dwell and release is one setting for all slots, as in the engine."""
    first = params[0]
    return [
        SlotParams(
            p.dwell_ms,
            p.release_ms,
            first.confirmations,
            first.supported_confirmation,
            first.decisive_margin_m,
            first.decisive_accuracy_multiple,
            first.max_gap_ms,
        )
        for p in params
    ]


def assert_same(table: MachineTable, row: int, reference: SlotMachine) -> None:
    got = table.machine(row)
    expected = SlotMachine(
        **{name: getattr(reference, name) for name in SlotMachine.__dataclass_fields__}
    )
    expected.drafts = [d for d in reference.drafts if d.end is None]
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(
    streams=st.lists(st.lists(facts, min_size=1, max_size=25), min_size=1, max_size=6),
    params=st.lists(slot_params, min_size=6, max_size=6),
    last_side=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_table_steps_like_the_reference_machine(
    streams: list[list[Fact]], params: list[SlotParams], last_side: list[bool]
) -> None:
    params = shared(params)
    n = len(streams)
    slots = np.arange(10, 10 + n, dtype=np.int64)
    table = MachineTable.empty()
    start_ms = np.full(100, 1_000_000, np.int64)
    sides = np.zeros(100, np.bool_)
    sides[slots] = last_side[:n]
    table.ensure(slots, start_ms, sides)
    references = [
        SlotMachine(last_ms=1_000_000, last_violating_side=last_side[i]) for i in range(n)
    ]
    clock = [1_000_000] * n
    for k in range(max(len(s) for s in streams)):
        live = [i for i in range(n) if k < len(streams[i])]
        facts_now = [streams[i][k] for i in live]
        for i, fact in zip(live, facts_now, strict=True):
            clock[i] += fact.gap_ms
        rows = table.rows_of(slots[live])
        closed: list[tuple[int, Draft]] = []
        warn = table.step(
            rows,
            np.array([clock[i] for i in live], np.int64),
            np.array([f.code for f in facts_now], np.int8),
            np.array([f.margin_m for f in facts_now]),
            np.array([f.accuracy_m for f in facts_now]),
            np.array([WINDOWS[f.window][0] for f in facts_now], np.int64),
            np.array([WINDOWS[f.window][1] for f in facts_now], np.int64),
            StepParams(
                np.array([params[i].dwell_ms for i in live], np.int64),
                np.array([params[i].release_ms for i in live], np.int64),
                params[0].confirmations,
                params[0].supported_confirmation,
                params[0].decisive_margin_m,
                params[0].decisive_accuracy_multiple,
                params[0].max_gap_ms,
            ),
            closed,
        )
        for j, (i, fact) in enumerate(zip(live, facts_now, strict=True)):
            reference = references[i]
            expected_warn = reference.step(
                clock[i],
                fact.code,
                fact.margin_m,
                fact.accuracy_m,
                WINDOWS[fact.window][0],
                WINDOWS[fact.window][1],
                params[i],
            )
            assert bool(warn[j]) == expected_warn
            closed_here = [d for s, d in closed if s == slots[i]]
            assert closed_here == [d for d in reference.drafts if d.end is not None]
            assert_same(table, int(rows[j]), reference)
            reference.drafts = [d for d in reference.drafts if d.end is None]


@settings(max_examples=150, deadline=None)
@given(stream=st.lists(facts, min_size=1, max_size=30), params=slot_params)
def test_a_machine_survives_the_trip_through_a_table_row(
    stream: list[Fact], params: SlotParams
) -> None:
    machine = SlotMachine(last_ms=0)
    table = MachineTable.empty()
    table.ensure(np.array([3], np.int64), np.zeros(4, np.int64), np.zeros(4, np.bool_))
    clock = 0
    for fact in stream:
        clock += fact.gap_ms
        start, end = WINDOWS[fact.window]
        machine.step(clock, fact.code, fact.margin_m, fact.accuracy_m, start, end, params)
        closed = table.store(0, machine, changed=False)
        assert closed == [d for d in machine.drafts if d.end is not None]
        machine.drafts = [d for d in machine.drafts if d.end is None]
        assert table.machine(0) == machine


def test_a_new_row_starts_at_rest_from_the_slots_bulk_state() -> None:
    table = MachineTable.empty()
    last_ms = np.array([5, 6, 7], np.int64)
    sides = np.array([False, True, False])
    table.ensure(np.array([2, 1], np.int64), last_ms, sides)

    assert table.slot.tolist() == [1, 2]
    assert table.machine(0) == SlotMachine(last_ms=6, last_violating_side=True)
    assert table.machine(1) == SlotMachine(last_ms=7, last_violating_side=False)
    assert table.at_rest().tolist() == [True, True]
    assert table.rows_of([0, 1, 2, 9]).tolist() == [-1, 0, 1, -1]


def test_an_episode_opened_by_a_step_is_flagged_for_publishing() -> None:
    table = MachineTable.empty()
    table.ensure(np.array([0], np.int64), np.full(1, NO_TIME, np.int64), np.zeros(1, np.bool_))
    params = StepParams(np.full(1, 10**9), np.zeros(1, np.int64), 2, 3, 75.0, 6.0, 600_000)
    closed: list[tuple[int, Draft]] = []
    rows = np.array([0])

    def step(time_ms: int, code: Evidence, margin: float) -> None:
        table.step(
            rows,
            np.array([time_ms], np.int64),
            np.array([code], np.int8),
            np.array([margin]),
            np.array([10.0]),
            np.array([0], np.int64),
            np.array([10**13], np.int64),
            params,
            closed,
        )

    step(60_000, Evidence.VIOLATING, 30.0)
    assert table.machine(0).phase is Phase.PENDING
    assert table.ints[0, CHANGED] == 0
    step(120_000, Evidence.VIOLATING, 40.0)
    assert table.machine(0).phase is Phase.VIOLATING
    assert table.ints[0, CHANGED] == 1
    step(180_000, Evidence.COMPLIANT, -40.0)  # release 0: closes at once
    assert [(d.start, d.end) for _, d in closed] == [(60_000, 180_000)]
    assert table.at_rest().tolist() == [True]
