"""Feed a simulation to the engine in arrival order, as a monitor would see it.

Fixes and device events reach the engine in ticks of `tick_s` by `received_at`; `now` is
the tick. Used by the quality benchmark and the console demo.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from tagwatch.domain.episodes import EngineEvent
from tagwatch.domain.positions import DeviceEvent, Fix
from tagwatch.engine import EngineState, FixBatch, compile_rules, evaluate
from tagwatch.sim.population import Simulation


def arrival(item: Fix | DeviceEvent) -> datetime:
    if item.received_at is not None:
        return item.received_at
    return item.fix_time if isinstance(item, Fix) else item.time


def replay(sim: Simulation, tick_s: float = 10.0) -> Iterator[tuple[datetime, list[EngineEvent]]]:
    """Yield (now, events) for every tick from the first arrival to just after the last."""
    rules = compile_rules(sim.rule_book)
    state = EngineState.empty(rules)
    fixes: Sequence[Fix] = sim.fixes
    device_events: Sequence[DeviceEvent] = sim.device_events
    fix_arrivals = [arrival(fix) for fix in fixes]
    event_arrivals = [arrival(event) for event in device_events]
    moments = fix_arrivals[:1] + fix_arrivals[-1:] + event_arrivals[:1] + event_arrivals[-1:]
    if not moments:
        return
    tick = timedelta(seconds=tick_s)
    now, last = min(moments) + tick, max(moments) + 2 * tick
    i_fix = i_event = 0
    while now <= last:
        j_fix = bisect.bisect_right(fix_arrivals, now, lo=i_fix)
        j_event = bisect.bisect_right(event_arrivals, now, lo=i_event)
        batch = FixBatch.from_fixes(fixes[i_fix:j_fix], rules.device_index)
        state, events = evaluate(rules, state, batch, device_events[i_event:j_event], now)
        i_fix, i_event = j_fix, j_event
        yield now, events
        now += tick
