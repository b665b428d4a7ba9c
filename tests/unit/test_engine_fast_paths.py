"""The engine's shortcuts change nothing it reports.

Two shortcuts: slot machines stepped as numpy table rows instead of one Python call per
(fix, slot) pair (with the reference machine for the last few slots of long re-runs), and
inner lon/lat boxes that settle fixes deep inside an inclusion zone without projecting them.
Each is checked against the engine without it, on the benchmark's population (circles,
star polygons, district inclusion zones, schedules, fixes near edges and inside), fed in
order and with rounds delivered late; and the inner boxes against GEOS on random shapes.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

import numpy as np
import pytest
from enginekit import PROJECTOR, lonlat
from hypothesis import given, settings
from hypothesis import strategies as st

from tagwatch.bench.engine import device_indexes, evaluation_time, round_batch
from tagwatch.bench.scene import make_scene, make_track
from tagwatch.domain.episodes import EngineEvent, RuleKind
from tagwatch.domain.zones import Area, Circle, Shape
from tagwatch.engine import CompiledRules, EngineState, FixBatch, compile_rules, evaluate
from tagwatch.engine import advance as advance_module
from tagwatch.engine.compile import SlotInfo
from tagwatch.engine.geometry import compile_shapes
from tagwatch.engine.inner_box import inner_boxes
from tagwatch.engine.machine import KEPT_EVIDENCE, Draft
from tagwatch.engine.publish import episode_from_draft, reopened_episode

SUBJECTS = 400
ROUNDS = 8
# Rounds as delivered: 2 and 5 arrive a round late, so their devices' histories re-run.
LATE_ORDER = [0, 1, 3, 2, 4, 6, 5, 7]


Rounds = list[tuple[FixBatch, datetime]]  # each minute's batch and its evaluation time


@pytest.fixture(scope="module")
def population() -> tuple[CompiledRules, Rounds]:
    scene = make_scene(SUBJECTS, seed=5)
    track = make_track(scene, ROUNDS)
    rules = compile_rules(scene.book)
    device = device_indexes(rules, scene)
    return rules, [
        (round_batch(track, device, r), evaluation_time(track, r)) for r in range(ROUNDS)
    ]


def run(rules: CompiledRules, rounds: Rounds, order: list[int]) -> list[EngineEvent]:
    """Deliver the rounds in `order`; `now` is always the newest round's evaluation time."""
    state = EngineState.empty(rules)
    events: list[EngineEvent] = []
    latest = 0
    for r in order:
        latest = max(latest, r)
        state, found = evaluate(rules, state, rounds[r][0], [], rounds[latest][1])
        events += found
    return events


@pytest.mark.parametrize("order", [list(range(ROUNDS)), LATE_ORDER], ids=["in-order", "late"])
def test_machine_table_and_reference_machines_report_the_same_events(
    population: tuple[CompiledRules, Rounds],
    order: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules, rounds = population
    monkeypatch.setattr(advance_module, "SCALAR_BELOW", 1)  # every round as table rows
    vectorised = run(rules, rounds, order)
    monkeypatch.setattr(advance_module, "SCALAR_BELOW", 10**9)  # every step in Python
    scalar = run(rules, rounds, order)

    assert vectorised == scalar
    assert sum(type(e).__name__ == "EpisodeEvent" for e in scalar) > 5  # episodes were seen
    assert sum(type(e).__name__ == "ApproachWarning" for e in scalar) > 5


@pytest.mark.parametrize("order", [list(range(ROUNDS)), LATE_ORDER], ids=["in-order", "late"])
def test_inner_boxes_change_no_event(
    population: tuple[CompiledRules, Rounds], order: list[int]
) -> None:
    rules, rounds = population
    assert np.isfinite(rules.slot_inner_deg[:, 0]).sum() > SUBJECTS / 10  # districts have one
    without = dataclasses.replace(
        rules,
        slot_inner_deg=np.full_like(rules.slot_inner_deg, np.nan),
        slot_inner_m=np.zeros_like(rules.slot_inner_m),
    )

    assert run(rules, rounds, order) == run(without, rounds, order)


def star(east_m: float, north_m: float, radii: list[float]) -> Area:
    ring = tuple(
        lonlat(
            east_m + r * math.cos(2 * math.pi * i / len(radii)),
            north_m + r * math.sin(2 * math.pi * i / len(radii)),
        )
        for i, r in enumerate(radii)
    )
    return Area(((ring + ring[:1],),))


shapes = st.one_of(
    st.builds(
        lambda e, n, r: Circle(*lonlat(e, n), r),
        st.floats(-50_000, 50_000),
        st.floats(-50_000, 50_000),
        st.floats(10.0, 30_000.0),
    ),
    st.builds(
        star,
        st.floats(-50_000, 50_000),
        st.floats(-50_000, 50_000),
        st.lists(st.floats(100.0, 25_000.0), min_size=5, max_size=40).filter(
            lambda radii: max(radii) < 2.5 * min(radii)
        ),
    ),
)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, where=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=20))
def test_every_point_of_an_inner_box_is_as_deep_inside_as_promised(
    shape: Shape, where: list[tuple[float, float]]
) -> None:
    compiled = compile_shapes([shape], PROJECTOR)
    boxes, depth = inner_boxes(compiled, PROJECTOR)
    if not np.isfinite(boxes[0, 0]):
        assert depth[0] == 0.0
        return
    # Corners and edges of the box, then random points inside it.
    u = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0] + [p[0] for p in where])
    v = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.5] + [p[1] for p in where])
    lon = boxes[0, 0] + u * (boxes[0, 2] - boxes[0, 0])
    lat = boxes[0, 1] + v * (boxes[0, 3] - boxes[0, 1])
    x, y = PROJECTOR.to_xy(lon, lat)
    inside = compiled.exact_signed_distance(np.zeros(lon.shape[0], np.intp), x, y)

    assert depth[0] > 0
    assert (inside >= depth[0]).all()


def test_shapes_too_small_or_not_wanted_get_no_inner_box() -> None:
    compiled = compile_shapes([Circle(*lonlat(0, 0), 5.0), Circle(*lonlat(0, 0), 500.0)], PROJECTOR)
    boxes, depth = inner_boxes(compiled, PROJECTOR, np.array([True, False]))

    assert np.isnan(boxes).all()
    assert depth.tolist() == [0.0, 0.0]


drafts = st.builds(
    Draft,
    start=st.integers(0, 10**12),
    confirmed_at=st.integers(0, 10**12),
    end=st.none(),
    deepest_m=st.floats(-1000.0, 1000.0),
    deepest_at=st.integers(0, 10**12),
    first_evidence=st.lists(st.integers(0, 10**12), max_size=KEPT_EVIDENCE),
    log_miss=st.floats(-100.0, 0.0),
)


@given(before=drafts, after=drafts)
def test_an_open_episode_seen_again_is_the_episode_its_draft_makes(
    before: Draft, after: Draft
) -> None:
    info = SlotInfo("tag-9", "subject-9", RuleKind.EXCLUSION, "zone-9")
    after = dataclasses.replace(after, start=before.start)
    published = episode_from_draft(info, before)

    assert reopened_episode(published, after) == episode_from_draft(info, after)
