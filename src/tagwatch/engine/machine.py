"""The episode state machine of one slot (one device against one requirement).

This is the reference implementation, one slot and one fix at a time. The engine keeps the
same state for many slots as table rows and steps them with numpy (`engine.machines`), using
this class only for the few slots left in long re-runs; a slot at rest that sees only
compliant evidence is advanced in bulk without a machine at all (see `advance`). Transitions:

    COMPLIANT --violating or leaning-violating evidence--> PENDING
    PENDING --2 confirmed fixes, 1 confirmed among 3 leaning-violating, 1 decisive fix,
              or leaning-violating evidence for the dwell time--> VIOLATING (episode opens)
    PENDING --compliant evidence, or a gap--> COMPLIANT
    VIOLATING --compliant evidence--> RELEASING
    RELEASING --compliant evidence for the release time--> COMPLIANT (episode closes)
    RELEASING --violating evidence--> VIOLATING
    any --rule stops applying (schedule)--> COMPLIANT (an open episode closes at the window end)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum

from tagwatch.engine.evidence import Evidence, violation_probability

NO_TIME = -(2**62)  # "never": earlier than any real time, and safe to subtract from
KEPT_EVIDENCE = 4  # fix times kept per episode from its start, plus the deepest fix


class Phase(IntEnum):
    COMPLIANT = 0
    PENDING = 1
    VIOLATING = 2
    RELEASING = 3


@dataclass(frozen=True, slots=True)
class SlotParams:
    dwell_ms: int
    release_ms: int
    confirmations: int
    supported_confirmation: int
    decisive_margin_m: float
    decisive_accuracy_multiple: float
    max_gap_ms: int


def log_miss_term(margin_m: float, accuracy_m: float) -> float:
    """log(1 - p) of one violating fix, floored: what it adds to an episode's log_miss."""
    miss = 1.0 - violation_probability(margin_m, accuracy_m)
    return math.log(max(miss, 1e-9))


@dataclass(slots=True)
class Draft:
    """An episode under construction (times in ms)."""

    start: int
    confirmed_at: int
    end: int | None = None
    deepest_m: float = -math.inf
    deepest_at: int = NO_TIME
    first_evidence: list[int] = field(default_factory=list)
    log_miss: float = 0.0  # sum of log(1 - p) over the violating fixes

    def add(self, time_ms: int, margin_m: float, accuracy_m: float) -> None:
        if len(self.first_evidence) < KEPT_EVIDENCE:
            self.first_evidence.append(time_ms)
        if margin_m > self.deepest_m:
            self.deepest_m, self.deepest_at = margin_m, time_ms
        self.log_miss += log_miss_term(margin_m, accuracy_m)

    @property
    def confidence(self) -> float:
        return 1.0 - math.exp(self.log_miss)

    def evidence(self) -> tuple[int, ...]:
        return tuple(sorted({*self.first_evidence, self.deepest_at} - {NO_TIME}))


@dataclass(slots=True)
class SlotMachine:
    phase: Phase = Phase.COMPLIANT
    last_ms: int = NO_TIME  # latest evidence of any kind, including "rule inactive"
    last_violating_side: bool = False  # the latest positioned fix, even with the rule off
    run: Draft | None = None  # the pending run's evidence, before an episode opens
    run_confirmations: int = 0
    run_leaning: int = 0  # violating and leaning-violating fixes in the run
    run_last_ms: int = NO_TIME
    release_start: int = NO_TIME
    window_start: int = NO_TIME
    window_end: int = NO_TIME
    in_warning: bool = False
    window_compliant_first: int = NO_TIME
    window_compliant_last: int = NO_TIME
    drafts: list[Draft] = field(default_factory=list)  # closed ones, then the open one

    @property
    def at_rest(self) -> bool:
        return self.phase is Phase.COMPLIANT and not self.in_warning and not self.drafts

    @property
    def open_draft(self) -> Draft | None:
        if self.drafts and self.drafts[-1].end is None:
            return self.drafts[-1]
        return None

    def clone(self) -> SlotMachine:
        """A copy safe to advance without touching the original (closed drafts are final)."""
        # Written out: dataclasses.replace is several times slower, and busy slots are
        # cloned on every batch.
        copy = SlotMachine.__new__(SlotMachine)
        for name in _MACHINE_FIELDS:
            setattr(copy, name, getattr(self, name))
        copy.drafts = list(self.drafts)
        if copy.run is not None:
            copy.run = replace(copy.run, first_evidence=list(copy.run.first_evidence))
        draft = copy.open_draft
        if draft is not None:
            copy.drafts[-1] = replace(draft, first_evidence=list(draft.first_evidence))
        return copy

    def close(self, end_ms: int) -> None:
        draft = self.open_draft
        if draft is not None:
            draft.end = max(end_ms, draft.start)
        self.phase = Phase.COMPLIANT
        self.run = None

    def close_window(self) -> None:
        """The rule stopped applying: an open episode ends with its window."""
        if self.phase is Phase.VIOLATING:
            self.close(self.window_end)
        elif self.phase is Phase.RELEASING:
            self.close(self.release_start)
        self.phase = Phase.COMPLIANT
        self.run = None
        self.in_warning = False

    def step(
        self,
        time_ms: int,
        code: int,
        margin_m: float,
        accuracy_m: float,
        window_start: int,
        window_end: int,
        params: SlotParams,
    ) -> bool:
        """Advance by one fix (in fix-time order); True when an approach warning is due."""
        previous_ms, self.last_ms = self.last_ms, max(self.last_ms, time_ms)
        if code == Evidence.NONE:
            return False
        previous_side, self.last_violating_side = self.last_violating_side, margin_m > 0
        if code == Evidence.INACTIVE:
            self.close_window()
            return False
        if window_start != self.window_start:
            self.window_compliant_first = self.window_compliant_last = NO_TIME
        self.window_start, self.window_end = window_start, window_end
        if code in (Evidence.COMPLIANT, Evidence.WARNING):
            if self.window_compliant_first == NO_TIME:
                self.window_compliant_first = time_ms
            self.window_compliant_last = time_ms

        if self.phase is Phase.PENDING and time_ms - self.run_last_ms > params.max_gap_ms:
            self.phase, self.run = Phase.COMPLIANT, None
        violating = code >= Evidence.LEAN_VIOLATING
        if self.phase is Phase.COMPLIANT and violating:
            # Out of place at the first fix of a window, and already out of place just before
            # it opened: the violation began with the window ("not home when the curfew
            # starts"). Seen in place just before, they left after it opened.
            began = time_ms
            if (
                previous_side
                and previous_ms < window_start
                and window_start - previous_ms <= params.max_gap_ms
            ):
                began = window_start
            self.phase = Phase.PENDING
            self.run = Draft(start=began, confirmed_at=time_ms)
            self.run_confirmations = self.run_leaning = 0

        if self.phase is Phase.PENDING:
            self._pending(time_ms, code, margin_m, accuracy_m, params)
        elif self.phase is Phase.VIOLATING:
            if violating:
                self._add(time_ms, margin_m, accuracy_m)
            elif code in (Evidence.COMPLIANT, Evidence.WARNING):
                self.phase, self.release_start = Phase.RELEASING, time_ms
                if params.release_ms <= 0:
                    self.close(time_ms)
        elif self.phase is Phase.RELEASING:
            if violating:
                self.phase = Phase.VIOLATING
                self._add(time_ms, margin_m, accuracy_m)
            elif code in (Evidence.COMPLIANT, Evidence.WARNING) and (
                time_ms - self.release_start >= params.release_ms
            ):
                self.close(self.release_start)

        warn = False
        if self.phase is Phase.COMPLIANT:
            warn = code == Evidence.WARNING and not self.in_warning
            self.in_warning = code == Evidence.WARNING
        return warn

    def _pending(
        self, time_ms: int, code: int, margin_m: float, accuracy_m: float, params: SlotParams
    ) -> None:
        run = self.run
        assert run is not None  # noqa: S101 - PENDING always has a run
        if code in (Evidence.COMPLIANT, Evidence.WARNING):
            self.phase, self.run = Phase.COMPLIANT, None
            return
        if code == Evidence.LEAN_COMPLIANT:
            # Leaning back: ends a run that never had a confirmed fix, else neutral.
            if self.run_confirmations == 0:
                self.phase, self.run = Phase.COMPLIANT, None
            return
        run.add(time_ms, margin_m, accuracy_m)
        self.run_last_ms = time_ms
        self.run_leaning += 1
        decisive = False
        if code == Evidence.VIOLATING:
            self.run_confirmations += 1
            decisive = margin_m >= max(
                accuracy_m + params.decisive_margin_m,
                accuracy_m * params.decisive_accuracy_multiple,
            )
        if (
            decisive
            or self.run_confirmations >= params.confirmations
            or (self.run_confirmations and self.run_leaning >= params.supported_confirmation)
            or time_ms - run.start >= params.dwell_ms
        ):
            run.confirmed_at = time_ms
            self.drafts.append(run)
            self.run, self.phase = None, Phase.VIOLATING

    def _add(self, time_ms: int, margin_m: float, accuracy_m: float) -> None:
        draft = self.open_draft
        if draft is not None:
            draft.add(time_ms, margin_m, accuracy_m)


_MACHINE_FIELDS = tuple(f.name for f in fields(SlotMachine))
