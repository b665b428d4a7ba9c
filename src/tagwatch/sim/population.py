"""`simulate(scenario)`: the population, their true lives, what their tags reported, and
when it reached the server; with the ground truth measured from the true tracks.

This module is the simulator's front door: `Scenario`, `Simulation` and the truth records
are re-exported from `tagwatch.sim.model`.

Each subject-day is computed with numpy arrays; `Fix` objects are made once, at the end,
in arrival order.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.domain.rules import RuleBook
from tagwatch.sim.gps_error import Observed, observe
from tagwatch.sim.model import (
    FixTruth,
    Injection,
    NearMiss,
    Scenario,
    Simulation,
    TruthViolation,
)
from tagwatch.sim.persons import Person, make_person
from tagwatch.sim.places import TownMap, to_wgs84
from tagwatch.sim.requirements import simulation_days
from tagwatch.sim.sensors import EventLog, at_home, battery_events, beacon_events
from tagwatch.sim.timeline import plan_timeline
from tagwatch.sim.timetable import local_instant, local_seconds
from tagwatch.sim.track import build_track
from tagwatch.sim.truth import STEP_S, Grid, violations_and_near_misses
from tagwatch.sim.uplink import deliver

__all__ = ["NearMiss", "Scenario", "Simulation", "TruthViolation", "simulate"]

IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class _DeviceOutput:
    """One tag's records in delivery order of generation: originals, then resends."""

    device: int
    observed: Observed
    index: IntArray
    received: npt.NDArray[np.float64]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _sample_times(rng: np.random.Generator, t0: float, t1: float, interval_s: float) -> IntArray:
    phase = float(rng.uniform(0.0, interval_s))
    grid = np.arange(t0 + phase, t1, interval_s)
    jitter = rng.integers(-1, 2, grid.shape[0]) if interval_s >= 5 else 0
    times = np.round(grid).astype(np.int64) + jitter
    times = times[(times >= t0) & (times < t1)]
    return times if interval_s >= 5 else np.unique(times)  # +-1 s cannot reorder at >= 5 s


def _dead_spots(
    days: list[date], rng: np.random.Generator, rate: float, time_zone: str
) -> list[tuple[float, float]]:
    gaps = []
    for day in days:
        if rng.random() < rate:
            start = local_seconds(day, float(rng.uniform(7.0, 21.0)) * 3600.0, time_zone)
            gaps.append((start, start + float(rng.uniform(3.0, 40.0)) * 60.0))
    return gaps


def _tag_events(timeline_tampers: list[tuple[float, float]], battery: EventLog) -> EventLog:
    for cut, restored in timeline_tampers:
        battery.add(cut, DeviceEventKind.STRAP_TAMPER)
        battery.add(restored, DeviceEventKind.STRAP_RESTORED)
    return battery.sorted()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A million new objects would set off the cyclic garbage collector again and again,
    each pass walking everything made so far; fixes and events hold no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def simulate(scenario: Scenario) -> Simulation:
    """Simulate `scenario`: the same scenario always gives the same simulation."""
    with _collector_paused():
        return _simulate(scenario)


def _simulate(scenario: Scenario) -> Simulation:
    towns = TownMap.hertfordshire()
    days, end = simulation_days(scenario.start, scenario.days, scenario.time_zone)
    start = local_instant(days[0], time(0), scenario.time_zone)
    span = (start.timestamp(), end.timestamp())
    seconds = round((span[1] - span[0]) / STEP_S)
    children = np.random.SeedSequence(scenario.seed).spawn(scenario.subjects)

    people: list[Person] = []
    outputs: list[_DeviceOutput] = []
    events: list[tuple[str, float, DeviceEventKind, float | None, float]] = []
    truth: list[TruthViolation] = []
    near: list[NearMiss] = []
    injections: list[Injection] = []
    tracks = {}
    for index, child in enumerate(children):
        rng = np.random.default_rng(child)
        person = make_person(index, rng, scenario, towns, days, (start, end))
        people.append(person)
        timeline = plan_timeline(person, scenario, days, span, towns, rng)
        built = build_track(
            timeline.blocks,
            rng,
            basement_rate=scenario.basement_rate,
            tunnel_rate=scenario.tunnel_rate,
        )
        tracks[person.tag_id] = built.track
        grid = Grid(span[0], seconds, built.track)
        spans, closes = violations_and_near_misses(grid, person.requirements)
        sid, tag = person.subject.id, person.tag_id
        truth.extend(
            TruthViolation(sid, tag, s.rule, s.requirement_id, _utc(s.start), _utc(s.end))
            for s in spans
        )
        truth.extend(
            TruthViolation(sid, tag, RuleKind.STRAP_TAMPER, "", _utc(a), _utc(b))
            for a, b in timeline.tampers
        )
        near.extend(
            NearMiss(sid, tag, c.rule, c.requirement_id, _utc(c.time), round(c.closest_m, 2))
            for c in closes
        )
        injections.extend(
            Injection(sid, tag, p.kind, p.requirement_id, _utc(p.start), _utc(p.end))
            for p in timeline.planned
        )

        gaps = built.gaps + _dead_spots(days, rng, scenario.dead_spot_rate, scenario.time_zone)
        times = _sample_times(rng, span[0], span[1], scenario.interval_s)
        observed = observe(
            built,
            times,
            rng,
            towns=towns,
            open_r95_m=person.open_r95_m,
            interval_s=scenario.interval_s,
            model=scenario.gps_error,
        )
        fix_index, received = deliver(
            observed.t.astype(np.float64), gaps, rng, duplicate_rate=scenario.duplicate_rate
        )
        outputs.append(_DeviceOutput(index, observed, fix_index, received))

        home = at_home(grid, (person.home.x, person.home.y))
        log = _tag_events(
            timeline.tampers,
            battery_events(
                home,
                grid,
                days,
                rng,
                time_zone=scenario.time_zone,
                drain_pct_per_h=person.drain_pct_per_h,
                skipped_charge_rate=scenario.skipped_charge_rate,
            ),
        )
        logs = [(tag, log, gaps)]
        if person.hmu_id is not None:
            logs.append((person.hmu_id, beacon_events(home, grid, rng).sorted(), []))
        for device_id, device_log, device_gaps in logs:
            at = np.array(device_log.times)
            which, when = deliver(at, device_gaps, rng, duplicate_rate=scenario.duplicate_rate)
            events.extend(
                (device_id, float(at[i]), device_log.kinds[i], device_log.values[i], float(w))
                for i, w in zip(which.tolist(), when.tolist(), strict=True)
            )

    fixes, fix_truth = _assemble_fixes(people, outputs)
    events.sort(key=lambda e: round(e[4] * 1000))  # stable: ties keep generation order
    device_events = [
        DeviceEvent(device_id, _utc(round(t)), kind, value, _utc(round(r * 1000) / 1000))
        for device_id, t, kind, value, r in events
    ]
    truth.sort(key=lambda v: (v.start, v.device_id))
    near.sort(key=lambda m: (m.time, m.device_id))
    return Simulation(
        scenario=scenario,
        subjects=[p.subject for p in people],
        devices=[d for p in people for d in p.devices()],
        assignments=[a for p in people for a in p.assignments],
        orders=[p.order for p in people],
        rule_book=RuleBook(tuple(p.rules() for p in people)),
        fixes=fixes,
        device_events=device_events,
        truth=truth,
        near_misses=near,
        end=end,
        tracks=tracks,
        fix_truth=fix_truth,
        injections=injections,
    )


def _assemble_fixes(
    people: list[Person], outputs: list[_DeviceOutput]
) -> tuple[list[Fix], FixTruth]:
    """Every delivery as a `Fix`, sorted by received_at (ties in generation order)."""

    def gather(name: str) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(o.observed, name)[o.index] for o in outputs])

    device = np.concatenate([np.full(o.index.shape[0], o.device, np.int64) for o in outputs])
    received_ms = np.round(np.concatenate([o.received for o in outputs]) * 1000).astype(np.int64)
    order = np.argsort(received_ms, kind="stable")
    device = device[order]
    received_ms = received_ms[order]

    def take(name: str) -> npt.NDArray[np.generic]:
        return gather(name)[order]

    t = take("t").astype(np.int64)
    x, y = take("x").astype(np.float64), take("y").astype(np.float64)
    true_x, true_y = take("true_x").astype(np.float64), take("true_y").astype(np.float64)
    valid = take("valid").astype(np.bool_)
    lon, lat = to_wgs84(x, y)
    error = np.where(valid, np.hypot(x - true_x, y - true_y), 0.0)
    # A record sent long after it was measured carries the device clock of the upload.
    late = received_ms - t * 1000 > 5000
    device_ms = np.where(late, received_ms - 400, t * 1000)

    unique_t, t_inverse = np.unique(t, return_inverse=True)
    fix_times = [datetime.fromtimestamp(s, UTC) for s in unique_t.tolist()]
    tag_ids = [p.tag_id for p in people]
    hdop = take("hdop")
    fixes = [
        Fix(
            tag_ids[d],
            fix_times[ti],
            la,
            lo,
            acc,
            v,
            datetime.fromtimestamp(r / 1000, UTC),
            datetime.fromtimestamp(dm / 1000, UTC) if is_late else fix_times[ti],
            sp,
            hd,
            None,
            sat,
            hp if v else None,
        )
        for d, ti, la, lo, acc, v, r, dm, is_late, sp, hd, sat, hp in zip(
            device.tolist(),
            t_inverse.tolist(),
            np.round(lat, 7).tolist(),
            np.round(lon, 7).tolist(),
            take("accuracy_m").tolist(),
            valid.tolist(),
            received_ms.tolist(),
            device_ms.tolist(),
            late.tolist(),
            take("speed_mps").tolist(),
            take("heading_deg").tolist(),
            take("satellites").tolist(),
            hdop.tolist(),
            strict=True,
        )
    ]
    truth = FixTruth(true_x, true_y, error, take("sky").astype(np.int8))
    return fixes, truth
