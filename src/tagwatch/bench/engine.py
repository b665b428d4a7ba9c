"""`tagwatch bench engine`: fixes per second on one core, against a per-fix loop in the same run.

The scene (`bench.scene`) gives every subject three zones and one fix a minute. The engine
judges the whole population one minute (one `evaluate` call) at a time, the way a monitor
does in steady state; the first minute is a warm-up (schedule timelines, first machines)
and is not counted. The baseline is what a straightforward implementation does: for each
fix, project it with pyproj, and for each zone of its subject check the schedule with
zoneinfo and the geometry with shapely. It is timed on a sample of the same fixes.

Both are timed in CPU seconds of this process (`process_time`) while it is pinned to one
CPU: on a shared machine wall time also counts the minutes other processes had the core.
Wall seconds are reported beside them.

Both timed sections also run with the heap as it was before them frozen (`frozen_heap`): the
scene's rule book holds some 18 M vertex tuples, and a full garbage collection walking them
costs 0.2-0.85 s, which doubled whichever side's window it happened to land in.

Each side is timed `--repeats` times (3), in turn: engine, baseline, engine, baseline...
The engine re-runs the counted minutes from the state the warm-up left (it is pure, so
each repeat does the same work and must publish the same events), the baseline judges
the same sample again. Each side's figure is its fastest repeat, as `timeit` reports: on
a shared core the other processes only ever add time, so the minimum is the repeat least
disturbed, and taking it on both sides alike keeps the ratio fair. Every repeat's CPU
seconds are in the summary.
"""

from __future__ import annotations

import cProfile
import gc
import io
import os
import pstats
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import shapely
import typer
from pyproj import Transformer

from tagwatch.bench.report import emit, progress
from tagwatch.bench.scene import (
    ZONES_PER_SUBJECT,
    Scene,
    Situation,
    Track,
    make_scene,
    make_track,
)
from tagwatch.domain.episodes import ApproachWarning, EngineEvent, EpisodeChange, EpisodeEvent
from tagwatch.domain.rules import DEFAULT_CRS
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Area, Circle, Zone
from tagwatch.engine import CompiledRules, EngineState, FixBatch, compile_rules, evaluate

REPLY_DELAY_MS = 2_000  # each minute is evaluated 2 s after its fixes were taken
DEFAULT_SUBJECTS = 100_000
WARM_UP_ROUNDS = 1


@dataclass(frozen=True, slots=True)
class EngineRun:
    fixes: int  # counted fixes (warm-up rounds excluded)
    cpu_seconds: float
    wall_seconds: float
    episodes_opened: int
    approach_warnings: int
    events: int
    warm_state: EngineState  # the state after the warm-up, for a profiled re-run


@dataclass(frozen=True, slots=True)
class BaselineRun:
    fixes: int
    cpu_seconds: float
    wall_seconds: float
    pairs_judged: int  # (fix, zone) pairs whose schedule was active
    uncertain: int
    inside: int


@contextmanager
def one_core() -> Iterator[int | None]:
    """Pin the process to one of the CPUs it may use; yields the CPU (None where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect, then freeze every object alive now until the block ends.

    Measurement hygiene, applied to the engine and the baseline alike: the scene (rule book,
    compiled rules, track) is built before timing and only read while timing, so a full
    collection that walks it measures the benchmark's own setup, not the code under test,
    and lands in one side's window or the other's by chance. Frozen objects are skipped by
    the collector; everything either side allocates while timed is still collected as
    usual (the collector stays enabled), so neither side is spared its own garbage.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def device_indexes(rules: CompiledRules, scene: Scene) -> npt.NDArray[np.int32]:
    """The engine's device index of each subject's tag, in subject order."""
    return np.fromiter(
        (rules.device_index[subject.device_ids[0]] for subject in scene.book.subjects),
        np.int32,
        scene.subjects,
    )


def round_batch(track: Track, device: npt.NDArray[np.int32], r: int) -> FixBatch:
    return FixBatch.from_arrays(
        device,
        np.full(device.shape[0], track.time_ms[r], np.int64),
        track.lon[r],
        track.lat[r],
        track.accuracy_m[r],
    )


def evaluation_time(track: Track, r: int) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(
        milliseconds=int(track.time_ms[r]) + REPLY_DELAY_MS
    )


def warmed_up(rules: CompiledRules, track: Track, device: npt.NDArray[np.int32]) -> EngineState:
    """The state after the warm-up rounds, which are not timed."""
    state = EngineState.empty(rules)
    with frozen_heap():
        for r in range(WARM_UP_ROUNDS):
            batch = round_batch(track, device, r)
            state, _ = evaluate(rules, state, batch, [], evaluation_time(track, r))
    return state


def time_counted_rounds(
    rules: CompiledRules, track: Track, device: npt.NDArray[np.int32], warm_state: EngineState
) -> EngineRun:
    """The counted minutes from the warm state, each `evaluate` timed (with its batch)."""
    state = warm_state
    fixes = opened = warnings = events_seen = 0
    wall_seconds = cpu_seconds = 0.0
    with frozen_heap():
        for r in range(WARM_UP_ROUNDS, track.rounds):
            now = evaluation_time(track, r)
            started, cpu_started = time.perf_counter(), time.process_time()
            batch = round_batch(track, device, r)
            state, events = evaluate(rules, state, batch, [], now)
            elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
            fixes += len(batch)
            wall_seconds += elapsed
            cpu_seconds += cpu_elapsed
            events_seen += len(events)
            opened += _count_opened(events)
            warnings += sum(isinstance(event, ApproachWarning) for event in events)
    return EngineRun(fixes, cpu_seconds, wall_seconds, opened, warnings, events_seen, warm_state)


def profile_engine(
    rules: CompiledRules, scene: Scene, track: Track, warm_state: EngineState, path: Path
) -> str:
    """Re-run the counted rounds from the warm state under cProfile; the top functions."""
    device = device_indexes(rules, scene)
    profiler = cProfile.Profile()
    state = warm_state
    with frozen_heap():
        for r in range(WARM_UP_ROUNDS, track.rounds):
            now = evaluation_time(track, r)
            profiler.enable()
            state, _ = evaluate(rules, state, round_batch(track, device, r), [], now)
            profiler.disable()
    profiler.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    return out.getvalue()


def zone_mix(scene: Scene) -> dict[str, int]:
    """How many zones of each kind the scene has, and how many carry a schedule."""
    zones = scene.zones
    polygons = ~zones.circle
    return {
        "circles": int(zones.circle.sum()),
        "polygons": int((polygons & zones.exclusion).sum()),
        "district_polygons": int((polygons & ~zones.exclusion).sum()),
        "polygon_vertices": int((zones.end - zones.start).sum()),
        "scheduled": sum(
            not zone.schedule.always for subject in scene.book.subjects for zone in subject.zones
        ),
    }


def _count_opened(events: Sequence[EngineEvent]) -> int:
    return sum(
        isinstance(event, EpisodeEvent) and event.change is EpisodeChange.OPENED for event in events
    )


# --- the baseline: one fix at a time, the straightforward way ------------------------------


@dataclass(frozen=True, slots=True)
class PlainZone:
    """A zone as a straightforward implementation keeps it: a shapely polygon in metres."""

    polygon: Any
    boundary: Any
    schedule: Schedule


def plain_zones(zones: Sequence[Zone], transformer: Transformer) -> list[PlainZone]:
    out = []
    for zone in zones:
        shape = zone.shape
        if isinstance(shape, Circle):
            x, y = transformer.transform(shape.lon, shape.lat)
            polygon = shapely.Point(x, y).buffer(shape.radius_m)
        elif isinstance(shape, Area):
            exterior = shape.polygons[0][0]
            xs, ys = transformer.transform([p[0] for p in exterior], [p[1] for p in exterior])
            polygon = shapely.Polygon(list(zip(xs, ys, strict=True)))
        else:
            raise TypeError(f"the baseline does not draw {type(shape).__name__}")
        out.append(PlainZone(polygon, polygon.boundary, zone.schedule))
    return out


def scheduled_now(schedule: Schedule, when: datetime) -> bool:
    """Is the weekly timetable on at `when`? (The scene uses no date ranges or exceptions.)"""
    if schedule.always:
        return True
    zone = ZoneInfo(schedule.time_zone)
    local = when.astimezone(zone)
    for window in schedule.windows:
        for days_back in (0, 1):
            day = local.date() - timedelta(days=days_back)
            if day.weekday() != window.weekday:
                continue
            opens = datetime.combine(day, window.start, tzinfo=zone)
            closes_on = day + timedelta(days=1) if window.overnight else day
            closes = datetime.combine(closes_on, window.end, tzinfo=zone)
            if opens <= local < closes:
                return True
    return False


@dataclass(frozen=True, slots=True)
class BaselineSample:
    """The baseline's input, made before timing: each fix and its subject's plain zones."""

    fixes: list[tuple[int, int, float, float, float]]  # subject, ms, lon, lat, accuracy_m
    zones_of: dict[int, list[PlainZone]]
    transformer: Transformer


def baseline_sample_of(scene: Scene, track: Track, sample: int, seed: int) -> BaselineSample:
    """`sample` fixes of the counted rounds, picked at random, with their subjects' zones."""
    rng = np.random.default_rng([seed, 3])
    counted = np.arange(WARM_UP_ROUNDS * scene.subjects, track.rounds * scene.subjects)
    picked = rng.choice(counted, size=min(sample, counted.shape[0]), replace=False)
    rounds, subjects = np.divmod(picked, scene.subjects)
    transformer = Transformer.from_crs("EPSG:4326", DEFAULT_CRS, always_xy=True)
    zones_of = {
        int(s): plain_zones(scene.book.subjects[int(s)].zones, transformer)
        for s in np.unique(subjects)
    }
    fixes = [
        (
            int(s),
            int(track.time_ms[r]),
            float(track.lon[r, s]),
            float(track.lat[r, s]),
            float(track.accuracy_m[r, s]),
        )
        for r, s in zip(rounds.tolist(), subjects.tolist(), strict=True)
    ]
    return BaselineSample(fixes, zones_of, transformer)


def run_baseline(sample: BaselineSample) -> BaselineRun:
    """Judge the sample's fixes one at a time, each against every zone of its subject."""
    transformer, zones_of = sample.transformer, sample.zones_of
    judged = uncertain = inside_count = 0
    with frozen_heap():
        started, cpu_started = time.perf_counter(), time.process_time()
        for subject, time_ms, lon, lat, accuracy in sample.fixes:
            x, y = transformer.transform(lon, lat)
            point = shapely.Point(x, y)
            when = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
            for zone in zones_of[subject]:
                if not scheduled_now(zone.schedule, when):
                    continue
                judged += 1
                inside = zone.polygon.contains(point)
                gap = zone.boundary.distance(point)
                if gap <= accuracy:
                    uncertain += 1
                elif inside:
                    inside_count += 1
        wall_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return BaselineRun(
        len(sample.fixes), cpu_seconds, wall_seconds, judged, uncertain, inside_count
    )


def timed_in_turn(
    rules: CompiledRules, scene: Scene, track: Track, sample: BaselineSample, repeats: int
) -> tuple[list[EngineRun], list[BaselineRun]]:
    """Engine, baseline, engine, baseline... `repeats` times each (see the module docstring)."""
    device = device_indexes(rules, scene)
    warm_state = warmed_up(rules, track, device)
    engine_runs: list[EngineRun] = []
    baseline_runs: list[BaselineRun] = []
    for repeat in range(repeats):
        engine_runs.append(time_counted_rounds(rules, track, device, warm_state))
        if engine_runs[-1].events != engine_runs[0].events:
            raise RuntimeError("the engine published other events when re-run: not pure")
        baseline_runs.append(run_baseline(sample))
        progress(
            f"repeat {repeat + 1}/{repeats}: engine {engine_runs[-1].cpu_seconds:.3f} CPU s,"
            f" baseline {baseline_runs[-1].cpu_seconds:.3f} CPU s"
        )
    return engine_runs, baseline_runs


# --- the benchmark ----------------------------------------------------------------------------


def engine_benchmark(
    subjects: int = DEFAULT_SUBJECTS,
    rounds: int = 10,
    seed: int = 0,
    baseline_sample: int = 20_000,
    profile: Path | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """Build the scene, time the engine and the baseline; the summary (and a profile, asked)."""
    if rounds <= WARM_UP_ROUNDS:
        raise ValueError(f"need more than {WARM_UP_ROUNDS} round(s): the first is a warm-up")
    if repeats < 1:
        raise ValueError("time each side at least once")
    started = time.perf_counter()
    scene = make_scene(subjects, seed)
    track = make_track(scene, rounds)
    scene_s = time.perf_counter() - started
    progress(f"scene: {subjects} subjects, {rounds} rounds in {scene_s:.1f} s")
    started = time.perf_counter()
    rules = compile_rules(scene.book)
    compile_s = time.perf_counter() - started
    progress(f"compile_rules: {compile_s:.1f} s")

    sample = baseline_sample_of(scene, track, baseline_sample, seed)
    with one_core() as cpu:
        engine_runs, baseline_runs = timed_in_turn(rules, scene, track, sample, repeats)
        engine = min(engine_runs, key=lambda run: run.cpu_seconds)
        baseline = min(baseline_runs, key=lambda run: run.cpu_seconds)
        progress(f"engine: {engine.fixes} fixes in {engine.cpu_seconds:.3f} CPU s (fastest)")
        progress(f"baseline: {baseline.fixes} fixes in {baseline.cpu_seconds:.3f} CPU s (fastest)")
        if profile is not None:
            progress(profile_engine(rules, scene, track, engine.warm_state, profile))

    fixes_per_s = engine.fixes / max(engine.cpu_seconds, 1e-9)
    baseline_per_s = baseline.fixes / max(baseline.cpu_seconds, 1e-9)
    counted = track.situation[WARM_UP_ROUNDS:]
    return {
        "subjects": subjects,
        "zones_per_subject": ZONES_PER_SUBJECT,
        "fixes_per_s": round(fixes_per_s, 1),
        "baseline_fixes_per_s": round(baseline_per_s, 1),
        "speedup": round(fixes_per_s / baseline_per_s, 1),
        "fixes": engine.fixes,
        "rounds_counted": track.rounds - WARM_UP_ROUNDS,
        "engine_cpu_seconds": round(engine.cpu_seconds, 3),
        "engine_wall_seconds": round(engine.wall_seconds, 3),
        "baseline_fixes": baseline.fixes,
        "baseline_cpu_seconds": round(baseline.cpu_seconds, 3),
        "baseline_wall_seconds": round(baseline.wall_seconds, 3),
        "baseline_pairs_judged": baseline.pairs_judged,
        "repeats": repeats,
        "engine_cpu_seconds_each": [round(run.cpu_seconds, 3) for run in engine_runs],
        "baseline_cpu_seconds_each": [round(run.cpu_seconds, 3) for run in baseline_runs],
        "episodes_opened": engine.episodes_opened,
        "approach_warnings": engine.approach_warnings,
        "events": engine.events,
        "placement": {
            "far": round(float(np.mean(counted == Situation.FAR)), 4),
            "near_edge": round(float(np.mean(counted == Situation.NEAR)), 4),
            "inside": round(float(np.mean(counted == Situation.INSIDE)), 4),
        },
        "zones": zone_mix(scene),
        "cpu": cpu,
        "setup_seconds": {"scene": round(scene_s, 1), "compile": round(compile_s, 1)},
    }


def engine_command(
    subjects: Annotated[
        int, typer.Option(min=1, help="Monitored subjects, one tag each.")
    ] = DEFAULT_SUBJECTS,
    rounds: Annotated[
        int, typer.Option(min=2, help="Minutes of one fix per subject; the first is a warm-up.")
    ] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the scene and the fixes.")] = 0,
    baseline_sample: Annotated[
        int, typer.Option(min=1, help="Fixes the per-fix baseline judges.")
    ] = 20_000,
    profile: Annotated[
        Path | None,
        typer.Option(help="Also re-run the counted rounds under cProfile and save the stats."),
    ] = None,
    repeats: Annotated[
        int, typer.Option(min=1, help="Times each side is timed, in turn; the fastest counts.")
    ] = 3,
) -> None:
    """Engine throughput on one core for a population with three zones each, vs a per-fix loop."""
    summary = engine_benchmark(subjects, rounds, seed, baseline_sample, profile, repeats)
    emit(
        summary,
        [
            f"engine   {summary['fixes_per_s']:>12,.0f} fixes/s  ({summary['fixes']} fixes)",
            f"baseline {summary['baseline_fixes_per_s']:>12,.0f} fixes/s  "
            f"({summary['baseline_fixes']} fixes)",
            f"speedup  {summary['speedup']:>12,.1f} x",
        ],
    )
