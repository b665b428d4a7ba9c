"""The episode state machines of many slots at once, as columns of one table.

`machine.SlotMachine` is the reference: one slot, one fix at a time, in Python. This module
keeps the same state for every slot that has a machine in two numpy arrays (integers and
floats, one row per slot) and advances many slots by one fix each with array operations
(`MachineTable.step`), so a batch costs a few dozen numpy passes instead of a Python call
per (fix, slot) pair. A slot with several fixes in one batch takes one step per *round*
(its k-th fix in round k). When a round has only a few slots left (a late upload re-running
one device's history), the rest runs through the reference machine, converted from and back
to rows: numpy calls cost more than Python on arrays of a few elements.

Both paths must give identical state; tests/unit/test_engine_machines.py proves it on random
evidence. Confidence terms come from the same scalar function (`log_miss_term`) on both paths,
so sums of floats match bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.engine.evidence import Evidence
from tagwatch.engine.machine import (
    KEPT_EVIDENCE,
    NO_TIME,
    Draft,
    Phase,
    SlotMachine,
    SlotParams,
    log_miss_term,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Integer columns. A draft (the pending run, or the open episode) is a group of columns at
# an offset: RUN or OPEN plus the D_* field.
PHASE, LAST_MS, LAST_SIDE, CONFIRMATIONS, LEANING, RUN_LAST_MS = range(6)
RELEASE_START, WINDOW_START, WINDOW_END, IN_WARNING, WC_FIRST, WC_LAST = range(6, 12)
CHANGED = 12  # the open episode may differ from what was last published
D_ACTIVE, D_START, D_CONFIRMED, D_DEEPEST_AT, D_COUNT, D_EVIDENCE = range(6)
DRAFT_INTS = D_EVIDENCE + KEPT_EVIDENCE
RUN = 13
OPEN = RUN + DRAFT_INTS
INT_COLUMNS = OPEN + DRAFT_INTS
# Float columns: per draft, the deepest margin and the summed log(1 - p).
F_DEEPEST, F_LOG_MISS = range(2)
RUN_F, OPEN_F = 0, 2
FLOAT_COLUMNS = 4

# Confidence is 1 - exp(log_miss); at or below this exp() is under half an ulp of 1.0, so
# further evidence cannot change the published (rounded) confidence.
SATURATED_LOG_MISS = -40.0
# Rounds with fewer slots than this run through the scalar reference machine.
SCALAR_BELOW = 12


@dataclass(frozen=True, slots=True)
class StepParams:
    """`SlotParams` for many slots: dwell and release per slot, the rest shared."""

    dwell_ms: IntArray
    release_ms: IntArray
    confirmations: int
    supported_confirmation: int
    decisive_margin_m: float
    decisive_accuracy_multiple: float
    max_gap_ms: int

    def scalar(self, k: int) -> SlotParams:
        return SlotParams(
            dwell_ms=int(self.dwell_ms[k]),
            release_ms=int(self.release_ms[k]),
            confirmations=self.confirmations,
            supported_confirmation=self.supported_confirmation,
            decisive_margin_m=self.decisive_margin_m,
            decisive_accuracy_multiple=self.decisive_accuracy_multiple,
            max_gap_ms=self.max_gap_ms,
        )


@dataclass(slots=True)
class MachineTable:
    """Machines of the slots in `slot` (ascending), one row each."""

    slot: IntArray
    ints: npt.NDArray[np.int64]  # (rows, INT_COLUMNS)
    floats: npt.NDArray[np.float64]  # (rows, FLOAT_COLUMNS)

    @classmethod
    def empty(cls) -> MachineTable:
        return cls(
            np.empty(0, np.int64),
            np.empty((0, INT_COLUMNS), np.int64),
            np.empty((0, FLOAT_COLUMNS), np.float64),
        )

    def __len__(self) -> int:
        return int(self.slot.shape[0])

    def copy(self) -> MachineTable:
        return MachineTable(self.slot.copy(), self.ints.copy(), self.floats.copy())

    def rows_of(self, slots: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Row of each slot; -1 where the slot has no machine."""
        wanted = np.asarray(slots, np.int64)
        row = np.searchsorted(self.slot, wanted)
        found = row < self.slot.shape[0]
        found[found] = self.slot[row[found]] == wanted[found]
        return np.where(found, row, -1)

    def ensure(self, slots: IntArray, last_ms: IntArray, last_side: BoolArray) -> None:
        """Give every slot in `slots` (unique) a machine; new ones start at rest from the
        slot's bulk state (`last_ms`, `last_side`, indexed by slot)."""
        new = slots[self.rows_of(slots) < 0]
        if new.shape[0] == 0:
            return
        ints = np.zeros((new.shape[0], INT_COLUMNS), np.int64)
        ints[:, [RUN_LAST_MS, RELEASE_START, WINDOW_START, WINDOW_END, WC_FIRST, WC_LAST]] = NO_TIME
        ints[:, LAST_MS] = last_ms[new]
        ints[:, LAST_SIDE] = last_side[new]
        floats = np.zeros((new.shape[0], FLOAT_COLUMNS), np.float64)
        floats[:, [RUN_F + F_DEEPEST, OPEN_F + F_DEEPEST]] = -np.inf
        self._insert(new, ints, floats)

    def remove(self, slots: npt.ArrayLike) -> None:
        drop = np.isin(self.slot, np.asarray(slots, np.int64))
        if drop.any():
            keep = ~drop
            self.slot, self.ints, self.floats = self.slot[keep], self.ints[keep], self.floats[keep]

    def take_from(self, other: MachineTable, slots: npt.ArrayLike) -> None:
        """Replace the machines of `slots` by copies of `other`'s (none where it has none)."""
        self.remove(slots)
        rows = other.rows_of(slots)
        rows = rows[rows >= 0]
        if rows.shape[0]:
            self._insert(other.slot[rows], other.ints[rows], other.floats[rows])

    def _insert(self, slots: IntArray, ints: npt.NDArray[np.int64], floats: FloatArray) -> None:
        slot = np.concatenate([self.slot, slots])
        order = np.argsort(slot, kind="stable")
        self.slot = slot[order]
        self.ints = np.concatenate([self.ints, ints])[order]
        self.floats = np.concatenate([self.floats, floats])[order]

    # --- whole-table questions --------------------------------------------------------------

    def at_rest(self) -> BoolArray:
        """COMPLIANT, not in a warning band, no open episode (closed ones are not kept)."""
        rest: BoolArray = (
            (self.ints[:, PHASE] == Phase.COMPLIANT)
            & (self.ints[:, IN_WARNING] == 0)
            & (self.ints[:, OPEN + D_ACTIVE] == 0)
        )
        return rest

    def open_draft(self, row: int) -> Draft | None:
        return self._draft(row, OPEN, OPEN_F, None) if self.ints[row, OPEN + D_ACTIVE] else None

    def open_drafts(self, rows: npt.NDArray[np.intp]) -> list[Draft | None]:
        """`open_draft` of many rows (-1: no row, None): two `tolist` calls for all of
        them rather than a row's `tolist` and two scalar reads each."""
        if len(self) == 0:
            return [None] * rows.shape[0]
        at = np.maximum(rows, 0)
        # Only the open draft's columns: a third of the row.
        ints = self.ints[at, OPEN : OPEN + DRAFT_INTS].tolist()
        floats = self.floats[at, OPEN_F : OPEN_F + 2].tolist()
        return [
            draft_of(i, f, 0, 0, None) if row >= 0 and i[D_ACTIVE] else None
            for row, i, f in zip(rows.tolist(), ints, floats, strict=True)
        ]

    def _draft(self, row: int, base: int, fbase: int, end: int | None) -> Draft:
        return draft_of(self.ints[row].tolist(), self.floats[row].tolist(), base, fbase, end)

    # --- conversion to and from the reference machine -----------------------------------------

    def machine(self, row: int) -> SlotMachine:
        ints = self.ints[row].tolist()
        open_draft = self.open_draft(row)
        return SlotMachine(
            phase=Phase(ints[PHASE]),
            last_ms=ints[LAST_MS],
            last_violating_side=bool(ints[LAST_SIDE]),
            run=self._draft(row, RUN, RUN_F, None) if ints[RUN + D_ACTIVE] else None,
            run_confirmations=ints[CONFIRMATIONS],
            run_leaning=ints[LEANING],
            run_last_ms=ints[RUN_LAST_MS],
            release_start=ints[RELEASE_START],
            window_start=ints[WINDOW_START],
            window_end=ints[WINDOW_END],
            in_warning=bool(ints[IN_WARNING]),
            window_compliant_first=ints[WC_FIRST],
            window_compliant_last=ints[WC_LAST],
            drafts=[] if open_draft is None else [open_draft],
        )

    def store(self, row: int, machine: SlotMachine, changed: bool) -> list[Draft]:
        """Write `machine` into `row`; returns its closed drafts (which rows do not keep)."""
        ints = self.ints[row]
        ints[PHASE] = int(machine.phase)
        ints[LAST_MS] = machine.last_ms
        ints[LAST_SIDE] = machine.last_violating_side
        ints[CONFIRMATIONS] = machine.run_confirmations
        ints[LEANING] = machine.run_leaning
        ints[RUN_LAST_MS] = machine.run_last_ms
        ints[RELEASE_START] = machine.release_start
        ints[WINDOW_START] = machine.window_start
        ints[WINDOW_END] = machine.window_end
        ints[IN_WARNING] = machine.in_warning
        ints[WC_FIRST] = machine.window_compliant_first
        ints[WC_LAST] = machine.window_compliant_last
        ints[CHANGED] = changed or bool(ints[CHANGED])
        self._store_draft(row, RUN, RUN_F, machine.run)
        self._store_draft(row, OPEN, OPEN_F, machine.open_draft)
        return [draft for draft in machine.drafts if draft.end is not None]

    def _store_draft(self, row: int, base: int, fbase: int, draft: Draft | None) -> None:
        ints = self.ints[row]
        if draft is None:
            ints[base + D_ACTIVE] = 0
            return
        ints[base + D_ACTIVE] = 1
        ints[base + D_START] = draft.start
        ints[base + D_CONFIRMED] = draft.confirmed_at
        ints[base + D_DEEPEST_AT] = draft.deepest_at
        ints[base + D_COUNT] = len(draft.first_evidence)
        ints[base + D_EVIDENCE : base + D_EVIDENCE + KEPT_EVIDENCE] = 0
        ints[base + D_EVIDENCE : base + D_EVIDENCE + len(draft.first_evidence)] = (
            draft.first_evidence
        )
        self.floats[row, fbase + F_DEEPEST] = draft.deepest_m
        self.floats[row, fbase + F_LOG_MISS] = draft.log_miss

    # --- the vectorised step ----------------------------------------------------------------

    def close_window(self, rows: npt.NDArray[np.intp], closed: list[tuple[int, Draft]]) -> None:
        """`SlotMachine.close_window` for many rows: the rule stopped applying."""
        if rows.shape[0] == 0:
            return
        phase = self.ints[rows, PHASE]
        violating = rows[phase == Phase.VIOLATING]
        self._close(violating, self.ints[violating, WINDOW_END], closed)
        releasing = rows[phase == Phase.RELEASING]
        self._close(releasing, self.ints[releasing, RELEASE_START], closed)
        self.ints[rows, PHASE] = Phase.COMPLIANT
        self.ints[rows, RUN + D_ACTIVE] = 0
        self.ints[rows, IN_WARNING] = 0

    def _close(
        self, rows: npt.NDArray[np.intp], end_ms: IntArray, closed: list[tuple[int, Draft]]
    ) -> None:
        """`SlotMachine.close` for many rows: the open episode (if any) ends at `end_ms`."""
        if rows.shape[0] == 0:
            return
        has_open = self.ints[rows, OPEN + D_ACTIVE] == 1
        ends = np.maximum(end_ms, self.ints[rows, OPEN + D_START]).tolist()
        for row, end, has in zip(rows.tolist(), ends, has_open.tolist(), strict=True):
            if has:
                closed.append((int(self.slot[row]), self._draft(row, OPEN, OPEN_F, end)))
        self.ints[rows, OPEN + D_ACTIVE] = 0
        self.ints[rows, PHASE] = Phase.COMPLIANT
        self.ints[rows, RUN + D_ACTIVE] = 0

    def _add(
        self,
        rows: npt.NDArray[np.intp],
        base: int,
        fbase: int,
        time_ms: IntArray,
        margin_m: FloatArray,
        accuracy_m: FloatArray,
    ) -> None:
        """`Draft.add` for many rows (each row once) of the draft at `base`."""
        if rows.shape[0] == 0:
            return
        ints, floats = self.ints, self.floats
        count = ints[rows, base + D_COUNT]
        room = count < KEPT_EVIDENCE
        ints[rows[room], base + D_EVIDENCE + count[room]] = time_ms[room]
        ints[rows[room], base + D_COUNT] = count[room] + 1
        deeper = margin_m > floats[rows, fbase + F_DEEPEST]
        floats[rows[deeper], fbase + F_DEEPEST] = margin_m[deeper]
        ints[rows[deeper], base + D_DEEPEST_AT] = time_ms[deeper]
        before = floats[rows, fbase + F_LOG_MISS]
        terms = np.fromiter(
            map(log_miss_term, margin_m.tolist(), accuracy_m.tolist()),
            np.float64,
            rows.shape[0],
        )
        floats[rows, fbase + F_LOG_MISS] = before + terms
        if base == OPEN:
            changed = room | deeper | (before > SATURATED_LOG_MISS)
            ints[rows[changed], CHANGED] = 1

    def step(
        self,
        rows: npt.NDArray[np.intp],
        time_ms: IntArray,
        code: npt.NDArray[np.int8],
        margin_m: FloatArray,
        accuracy_m: FloatArray,
        window_start: IntArray,
        window_end: IntArray,
        params: StepParams,
        closed: list[tuple[int, Draft]],
    ) -> BoolArray:
        """`SlotMachine.step` for many rows at once, each row at most once; True where an
        approach warning is due. `params` arrays are aligned with `rows`."""
        ints = self.ints
        warn = np.zeros(rows.shape[0], np.bool_)
        previous_ms = ints[rows, LAST_MS]
        ints[rows, LAST_MS] = np.maximum(previous_ms, time_ms)
        positioned = code != Evidence.NONE
        previous_side = ints[rows, LAST_SIDE] == 1
        ints[rows[positioned], LAST_SIDE] = margin_m[positioned] > 0
        inactive = code == Evidence.INACTIVE
        self.close_window(rows[inactive], closed)

        live = np.flatnonzero(positioned & ~inactive)
        if live.shape[0] == 0:
            return warn
        r, t, c = rows[live], time_ms[live], code[live]
        margin, accuracy = margin_m[live], accuracy_m[live]
        ws, we = window_start[live], window_end[live]
        dwell, release = params.dwell_ms[live], params.release_ms[live]
        previous_ms, previous_side = previous_ms[live], previous_side[live]

        new_window = ws != ints[r, WINDOW_START]
        ints[r[new_window], WC_FIRST] = NO_TIME
        ints[r[new_window], WC_LAST] = NO_TIME
        ints[r, WINDOW_START], ints[r, WINDOW_END] = ws, we
        compliant = (c == Evidence.COMPLIANT) | (c == Evidence.WARNING)
        first = compliant & (ints[r, WC_FIRST] == NO_TIME)
        ints[r[first], WC_FIRST] = t[first]
        ints[r[compliant], WC_LAST] = t[compliant]

        phase = ints[r, PHASE]
        gap = (phase == Phase.PENDING) & (t - ints[r, RUN_LAST_MS] > params.max_gap_ms)
        phase[gap] = Phase.COMPLIANT
        ints[r[gap], RUN + D_ACTIVE] = 0
        violating = c >= Evidence.LEAN_VIOLATING
        begin = (phase == Phase.COMPLIANT) & violating
        if begin.any():
            # "Not home when the curfew starts": out of place just before the window opened.
            with_window = (
                previous_side & (previous_ms < ws) & (ws - previous_ms <= params.max_gap_ms)
            )
            began = np.where(with_window, ws, t)
            b = r[begin]
            phase[begin] = Phase.PENDING
            ints[b, RUN : RUN + DRAFT_INTS] = 0
            ints[b, RUN + D_ACTIVE] = 1
            ints[b, RUN + D_START] = began[begin]
            ints[b, RUN + D_CONFIRMED] = t[begin]
            ints[b, RUN + D_DEEPEST_AT] = NO_TIME
            self.floats[b, RUN_F + F_DEEPEST] = -np.inf
            self.floats[b, RUN_F + F_LOG_MISS] = 0.0
            ints[b, CONFIRMATIONS] = 0
            ints[b, LEANING] = 0

        pending = phase == Phase.PENDING
        in_episode = phase == Phase.VIOLATING
        releasing = phase == Phase.RELEASING

        # PENDING: compliance ends the run; leaning back ends it without a confirmed fix.
        drop = pending & (
            compliant | ((c == Evidence.LEAN_COMPLIANT) & (ints[r, CONFIRMATIONS] == 0))
        )
        phase[drop] = Phase.COMPLIANT
        ints[r[drop], RUN + D_ACTIVE] = 0
        grow = pending & violating
        if grow.any():
            g = r[grow]
            self._add(g, RUN, RUN_F, t[grow], margin[grow], accuracy[grow])
            ints[g, RUN_LAST_MS] = t[grow]
            ints[g, LEANING] += 1
            confirmed = c[grow] == Evidence.VIOLATING
            ints[g, CONFIRMATIONS] += confirmed
            m, a = margin[grow], accuracy[grow]
            decisive = confirmed & (
                m >= np.maximum(a + params.decisive_margin_m, a * params.decisive_accuracy_multiple)
            )
            confirmations = ints[g, CONFIRMATIONS]
            opens = (
                decisive
                | (confirmations >= params.confirmations)
                | ((confirmations > 0) & (ints[g, LEANING] >= params.supported_confirmation))
                | (t[grow] - ints[g, RUN + D_START] >= dwell[grow])
            )
            o = g[opens]
            ints[o, RUN + D_CONFIRMED] = t[grow][opens]
            ints[o, OPEN : OPEN + DRAFT_INTS] = ints[o, RUN : RUN + DRAFT_INTS]
            self.floats[o, OPEN_F : OPEN_F + 2] = self.floats[o, RUN_F : RUN_F + 2]
            ints[o, RUN + D_ACTIVE] = 0
            ints[o, CHANGED] = 1
            phase[np.flatnonzero(grow)[opens]] = Phase.VIOLATING

        # VIOLATING: more evidence deepens the episode; compliance starts the release.
        deepen = (in_episode | releasing) & violating & (ints[r, OPEN + D_ACTIVE] == 1)
        phase[releasing & violating] = Phase.VIOLATING
        self._add(r[deepen], OPEN, OPEN_F, t[deepen], margin[deepen], accuracy[deepen])
        start_release = in_episode & compliant
        ints[r[start_release], RELEASE_START] = t[start_release]
        phase[start_release] = Phase.RELEASING
        instant = start_release & (release <= 0)
        released = releasing & compliant & (t - ints[r, RELEASE_START] >= release) & ~start_release
        ints[r, PHASE] = phase
        self._close(r[instant], t[instant], closed)
        self._close(r[released], ints[r[released], RELEASE_START], closed)

        phase = ints[r, PHASE]
        at_peace = phase == Phase.COMPLIANT
        warning = c == Evidence.WARNING
        warn[live] = at_peace & warning & (ints[r, IN_WARNING] == 0)
        ints[r[at_peace], IN_WARNING] = warning[at_peace]
        return warn


def draft_of(ints: list[int], floats: list[float], base: int, fbase: int, end: int | None) -> Draft:
    """The draft at column offsets (`base`, `fbase`) of one table row given as lists."""
    return Draft(
        start=ints[base + D_START],
        confirmed_at=ints[base + D_CONFIRMED],
        end=end,
        deepest_m=floats[fbase + F_DEEPEST],
        deepest_at=ints[base + D_DEEPEST_AT],
        first_evidence=ints[base + D_EVIDENCE : base + D_EVIDENCE + ints[base + D_COUNT]],
        log_miss=floats[fbase + F_LOG_MISS],
    )
