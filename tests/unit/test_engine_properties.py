"""The engine reaches the same episodes whatever the arrival order, batching and duplicates.

A random hour of fixes (18:30-19:30 London time, so the 19:00 curfew starts half-way) moves
between a circle exclusion zone, a polygon exclusion zone, the curfew address and nowhere in
particular, with accuracies from 3 to 80 m and some fixes without a position. The episodes
the engine ends with (every field: ids, starts, ends, deepest penetration, evidence,
confidence) must not depend on how the fixes were delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from itertools import pairwise
from random import Random

from enginekit import (
    REPLY_DELAY,
    Run,
    circle,
    curfew,
    device_event,
    exclusion,
    fix_at,
    local,
    no_position,
    rules_for,
    square,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagwatch.domain.episodes import Episode, RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.schedules import Schedule
from tagwatch.engine import CompiledRules

K = DeviceEventKind

# Where the fixes can be: east of these centres (grid metres) by a random distance.
ANCHORS = {
    "circle": (0.0, 0.0),  # exclusion circle, radius 200 m
    "polygon": (0.0, 1500.0),  # exclusion square, 400 m a side
    "home": (0.0, -1500.0),  # curfew address, radius 100 m
    "nowhere": (3000.0, 0.0),
}
RULES: CompiledRules = rules_for(
    zones=[
        exclusion(circle(radius_m=200.0), zone_id="circle", warning_buffer_m=50.0),
        exclusion(square(200.0, north_m=1500.0), zone_id="polygon"),
    ],
    curfews=[
        curfew(circle(north_m=-1500.0, radius_m=100.0), Schedule.every_day(time(19), time(7)))
    ],
)
START = local("2026-11-02 18:30")
MINUTES = 61
AFTER_ALL = START + timedelta(minutes=MINUTES + 10)

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


# How often a fix of a segment has no position: a good signal, a patchy one, or none at all
# (long stretches without a position open no-GPS episodes).
SIGNAL = {"good": 0.1, "patchy": 0.5, "lost": 1.0}


@st.composite
def hours_of_fixes(draw: st.DrawFn) -> list[Fix]:
    """Sticky segments near one anchor, each with its own signal quality. Some minutes have
    no record at all, but every 10th minute has one, so the tag is never silent long enough
    for no-comms (which depends on when records arrive, not on their times)."""
    fixes: list[Fix] = []
    minute = 0
    while minute < MINUTES:
        anchor = ANCHORS[draw(st.sampled_from(sorted(ANCHORS)))]
        base = draw(st.floats(0.0, 450.0))
        invalid_share = SIGNAL[draw(st.sampled_from(["good", "good", "patchy", "lost"]))]
        for _ in range(draw(st.integers(1, 20))):
            if minute >= MINUTES:
                break
            at = START + timedelta(minutes=minute)
            absent = minute % 10 != 0 and draw(st.integers(0, 9)) == 0
            invalid = invalid_share == 1.0 or draw(st.floats(0.0, 1.0)) < invalid_share
            minute += 1
            if absent:
                continue
            if invalid:
                fixes.append(no_position(at))
                continue
            east = max(base + draw(st.floats(-40.0, 40.0)), 0.0)
            accuracy = draw(st.floats(3.0, 80.0))
            fixes.append(fix_at(at, anchor[0] + east, anchor[1], accuracy_m=accuracy))
    return fixes


def final_episodes(run: Run) -> list[Episode]:
    """Every episode the engine ends with, every field."""
    return sorted(run.state.all_episodes(), key=lambda e: e.id)


def deliver(
    run: Run,
    records: Sequence[Fix | DeviceEvent],
    cuts: Sequence[int],
    now: datetime = AFTER_ALL,
) -> Run:
    """Feed `records` in the order given, in batches split at the `cuts` (taken modulo the
    number of records), every batch evaluated at the same `now`."""
    bounds = [0, *sorted({c % (len(records) + 1) for c in cuts}), len(records)]
    for lo, hi in pairwise(bounds):
        batch = records[lo:hi]
        run.feed(
            [r for r in batch if isinstance(r, Fix)],
            [r for r in batch if isinstance(r, DeviceEvent)],
            now=now,
        )
    return run


def in_order(fixes: Sequence[Fix]) -> list[Episode]:
    return final_episodes(Run(RULES).one_by_one(fixes))


def in_batches(fixes: Sequence[Fix], cuts: Sequence[int]) -> list[Episode]:
    return final_episodes(deliver(Run(RULES), fixes, cuts))


def shuffled(fixes: Sequence[Fix], order: Sequence[int]) -> list[Fix]:
    return [fixes[i % len(fixes)] for i in order]


@PROPERTY
@given(fixes=hours_of_fixes())
def test_one_batch_gives_the_episodes_of_one_fix_at_a_time(fixes: list[Fix]) -> None:
    assert in_batches(fixes, []) == in_order(fixes)


# The other deliveries are compared with one batch (cheaper than one fix at a time, and
# equal to it by the property above).


@PROPERTY
@given(
    fixes=hours_of_fixes(),
    order=st.permutations(range(MINUTES)),
    cuts=st.lists(st.integers(0, MINUTES), max_size=10),
)
def test_shuffled_batches_give_the_episodes_of_one_batch(
    fixes: list[Fix], order: list[int], cuts: list[int]
) -> None:
    permutation = [i for i in order if i < len(fixes)]
    assert in_batches(shuffled(fixes, permutation), cuts) == in_batches(fixes, [])


@PROPERTY
@given(
    fixes=hours_of_fixes(),
    extra=st.lists(st.integers(0, MINUTES), min_size=1, max_size=30),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 2 * MINUTES), max_size=10),
)
def test_duplicates_change_nothing(
    fixes: list[Fix], extra: list[int], order: Random, cuts: list[int]
) -> None:
    delivered = fixes + [fixes[i % len(fixes)] for i in extra]
    order.shuffle(delivered)
    assert in_batches(delivered, cuts) == in_batches(fixes, [])


@settings(PROPERTY, max_examples=20)
@given(fixes=hours_of_fixes(), order=st.randoms(use_true_random=False))
def test_fixes_arriving_one_at_a_time_in_random_order_give_the_episodes_of_one_batch(
    fixes: list[Fix], order: Random
) -> None:
    delivered = list(fixes)
    order.shuffle(delivered)
    # Each evaluated as it arrives; `now` is never before the newest fix time seen.
    run = Run(RULES)
    newest = START
    for fix in delivered:
        newest = max(newest, fix.fix_time)
        run.feed([fix], now=newest + REPLY_DELAY)
    assert final_episodes(run) == in_batches(fixes, [])


# --- several devices in one batch, and home-beacon reports mixed in ---

DEVICES = ("tag-1", "tag-2", "tag-3")
MULTI_RULES = rules_for(
    zones=[
        exclusion(circle(radius_m=200.0), zone_id="circle"),
        exclusion(square(200.0, north_m=1500.0), zone_id="polygon"),
    ],
    curfews=[
        curfew(
            circle(north_m=-1500.0, radius_m=100.0),
            Schedule.every_day(time(19), time(7)),
            beacon_device_id="hmu-1",
        )
    ],
    devices=DEVICES,
)


@settings(PROPERTY, max_examples=20)
@given(
    tracks=st.lists(hours_of_fixes(), min_size=3, max_size=3),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 3 * MINUTES), max_size=6),
)
def test_devices_sharing_batches_get_the_episodes_each_would_get_alone(
    tracks: list[list[Fix]], order: Random, cuts: list[int]
) -> None:
    mine = [
        [replace(f, device_id=d) for f in fixes] for d, fixes in zip(DEVICES, tracks, strict=True)
    ]
    alone = []
    for fixes in mine:
        run = Run(MULTI_RULES)
        run.feed(fixes, now=AFTER_ALL)
        alone += final_episodes(run)
    together = [f for fixes in mine for f in fixes]
    order.shuffle(together)
    run = deliver(Run(MULTI_RULES), together, cuts)
    assert final_episodes(run) == sorted(alone, key=lambda e: e.id)


beacon_reports = st.lists(
    st.builds(
        lambda second, home, reporter: device_event(
            K.BEACON_IN_RANGE if home else K.BEACON_OUT_OF_RANGE,
            START + timedelta(seconds=second),
            device=reporter,
        ),
        st.integers(0, 3600),
        st.booleans(),
        st.sampled_from(["hmu-1", "tag-1"]),
    ),
    max_size=6,
)


@settings(PROPERTY, max_examples=20)
@given(
    fixes=hours_of_fixes(),
    reports=beacon_reports,
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, MINUTES), max_size=6),
)
def test_beacon_reports_in_any_order_give_the_episodes_of_chronological_delivery(
    fixes: list[Fix], reports: list[DeviceEvent], order: Random, cuts: list[int]
) -> None:
    chronological = Run(MULTI_RULES)
    timed = [(f.fix_time, 0, f) for f in fixes] + [(e.time, 1, e) for e in reports]
    for at, _, record in sorted(timed, key=lambda item: item[:2]):
        deliver(chronological, [record], [], now=at + REPLY_DELAY)

    records: list[Fix | DeviceEvent] = [*fixes, *reports]
    order.shuffle(records)
    run = deliver(Run(MULTI_RULES), records, cuts)

    assert final_episodes(run) == final_episodes(chronological)


def test_the_property_rules_are_violated_by_fixes_near_their_anchors() -> None:
    """Guards the properties against rules that fixes near the anchors never violate."""
    away = [fix_at(START + timedelta(minutes=m), 3000.0) for m in range(MINUTES)]
    inside = [fix_at(START + timedelta(minutes=m), 100.0) for m in range(10)]
    poly = [fix_at(START + timedelta(minutes=m), 100.0, 1500.0) for m in range(10, 20)]
    episodes = in_order(inside + poly + away[20:])
    assert sorted({(e.rule, e.requirement_id) for e in episodes}) == [
        (RuleKind.CURFEW, "curfew-1"),
        (RuleKind.EXCLUSION, "circle"),
        (RuleKind.EXCLUSION, "polygon"),
    ]


# --- device health: the same property for device events ---

HEALTH_RULES = {
    RuleKind.STRAP_TAMPER,
    RuleKind.CASE_TAMPER,
    RuleKind.LOW_BATTERY,
    RuleKind.GPS_JAMMING,
}
EVENT_KINDS = [
    K.STRAP_TAMPER,
    K.STRAP_RESTORED,
    K.CASE_TAMPER,
    K.CASE_RESTORED,
    K.GPS_JAMMING_SUSPECTED,
    K.GPS_JAMMING_CLEARED,
    K.BATTERY_LEVEL,
    K.BATTERY_LEVEL,
    K.HEARTBEAT,
    K.CHARGING_ON,
]
HEALTH_RULEBOOK = rules_for()


@st.composite
def device_events(draw: st.DrawFn) -> list[DeviceEvent]:
    events = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(EVENT_KINDS))
        at = START + timedelta(seconds=draw(st.integers(0, 3600)))
        value = draw(st.integers(0, 100)) * 1.0 if kind is K.BATTERY_LEVEL else None
        events.append(device_event(kind, at, value))
    return events


def health_episodes(run: Run) -> list[Episode]:
    # No-comms is about when records *arrive*, so it legitimately depends on delivery.
    return sorted(
        (e for e in run.state.all_episodes() if e.rule in HEALTH_RULES), key=lambda e: e.id
    )


@PROPERTY
@given(
    events=device_events(),
    extra=st.lists(st.integers(0, 100), max_size=10),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 60), max_size=8),
)
def test_device_events_in_any_order_and_batching_give_the_same_health_episodes(
    events: list[DeviceEvent], extra: list[int], order: Random, cuts: list[int]
) -> None:
    reference = Run(HEALTH_RULEBOOK)
    for event in sorted(events, key=lambda e: e.time):
        reference.feed(device_events=[event], now=event.time + REPLY_DELAY)

    delivered = events + [events[i % len(events)] for i in extra]
    order.shuffle(delivered)
    run = deliver(Run(HEALTH_RULEBOOK), delivered, cuts)

    assert health_episodes(run) == health_episodes(reference)
