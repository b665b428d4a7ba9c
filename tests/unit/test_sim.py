"""The simulator: deterministic, truthful, and as messy as real tags."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from tagwatch.cli import app
from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.rules import SubjectRules
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Circle, Shape
from tagwatch.sim import Scenario, Simulation, simulate
from tagwatch.sim.model import DEFAULT_START, GpsErrorModel
from tagwatch.sim.output import write_simulation
from tagwatch.sim.places import TOWNS, to_bng
from tagwatch.sim.shapes import shape_to_bng
from tagwatch.sim.timetable import active_intervals, active_mask, local_instant
from tagwatch.sim.track import Sky

# Deviations far more often than in the default scenario, so that a few subjects show
# every kind of truth.
BUSY = Scenario(
    seed=11,
    subjects=8,
    days=2,
    exclusion_entry_rate=0.6,
    curfew_absence_rate=0.4,
    late_home_rate=0.2,
    inclusion_share=0.5,
    inclusion_exit_rate=0.5,
    strap_tamper_rate=0.3,
    exclusion_near_miss_rate=0.5,
    curfew_near_miss_rate=0.3,
    dead_spot_rate=0.8,
)


@pytest.fixture(scope="module")
def busy() -> Simulation:
    return simulate(BUSY)


def _requirements(sim: Simulation) -> dict[str, tuple[Shape, Schedule]]:
    found: dict[str, tuple[Shape, Schedule]] = {}
    for rules in sim.rule_book.subjects:
        for zone in rules.zones:
            found[zone.id] = (zone.shape, zone.schedule)
        for curfew in rules.curfews:
            found[curfew.id] = (curfew.address, curfew.schedule)
    return found


def _inside(shape: Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Judged independently of the simulator's own fast masks."""
    if isinstance(shape, Circle):
        cx, cy = to_bng([shape.lon], [shape.lat])
        return np.asarray(np.hypot(x - cx[0], y - cy[0]) < shape.radius_m)
    return np.asarray(shapely.contains_xy(shape_to_bng(shape), x, y))


def test_the_same_seed_gives_the_same_simulation(busy: Simulation) -> None:
    again = simulate(BUSY)
    assert again.fixes == busy.fixes
    assert again.device_events == busy.device_events
    assert again.truth == busy.truth
    assert again.near_misses == busy.near_misses
    assert again.rule_book == busy.rule_book


def test_another_seed_gives_another_simulation() -> None:
    small = Scenario(seed=1, subjects=2, days=1)
    first, other = simulate(small), simulate(replace(small, seed=2))
    assert [f.lat for f in first.fixes[:50]] != [f.lat for f in other.fixes[:50]]
    assert first.rule_book != other.rule_book


def test_busy_scenario_has_every_kind_of_truth(busy: Simulation) -> None:
    rules = Counter(v.rule for v in busy.truth)
    assert set(rules) == {
        RuleKind.EXCLUSION,
        RuleKind.INCLUSION,
        RuleKind.CURFEW,
        RuleKind.STRAP_TAMPER,
    }
    assert {m.rule for m in busy.near_misses} == {RuleKind.EXCLUSION, RuleKind.CURFEW}


def test_truth_is_the_true_position_on_the_wrong_side_while_the_rule_applies(
    busy: Simulation,
) -> None:
    requirements = _requirements(busy)
    checked = 0
    for violation in busy.truth:
        if violation.rule is RuleKind.STRAP_TAMPER:
            continue
        shape, schedule = requirements[violation.requirement_id]
        track = busy.tracks[violation.device_id]
        # Every second strictly within the violation, and one second either side.
        t = np.arange(violation.start.timestamp() + 1, violation.end.timestamp() - 1, 1.0)
        edges = np.array([violation.start.timestamp() - 1, violation.end.timestamp()])
        wrong = _inside(shape, *track.xy_at(t))
        wrong_at_edges = _inside(shape, *track.xy_at(edges))
        if violation.rule is not RuleKind.EXCLUSION:
            wrong, wrong_at_edges = ~wrong, ~wrong_at_edges
        windows = active_intervals(schedule, busy.scenario.start, busy.end)
        assert wrong.all(), violation
        assert active_mask(windows, t).all(), violation
        # It began and ended at a boundary crossing or where the schedule starts or stops.
        active_at_edges = active_mask(windows, edges)
        assert not (wrong_at_edges & active_at_edges).any(), violation
        checked += 1
    assert checked >= 5


def test_exclusion_entries_go_well_inside(busy: Simulation) -> None:
    requirements = _requirements(busy)
    depths = []
    for violation in busy.truth:
        if violation.rule is RuleKind.EXCLUSION and violation.duration_s >= 120:
            shape, _ = requirements[violation.requirement_id]
            region = shape_to_bng(shape)
            t = np.arange(violation.start.timestamp(), violation.end.timestamp(), 5.0)
            x, y = busy.tracks[violation.device_id].xy_at(t)
            depths.append(float(shapely.distance(region.boundary, shapely.points(x, y)).max()))
    assert depths
    assert min(depths) >= 20.0


def test_every_violation_comes_from_a_planned_deviation(busy: Simulation) -> None:
    """Normal days are compliant: nothing but injections breaks a rule."""
    margin = timedelta(minutes=15)
    for violation in busy.truth:
        assert any(
            i.device_id == violation.device_id
            and i.requirement_id == violation.requirement_id
            and i.start - margin < violation.end
            and violation.start < i.end + margin
            for i in busy.injections
        ), violation


def test_near_misses_stay_on_the_right_side(busy: Simulation) -> None:
    for miss in busy.near_misses:
        if miss.rule is RuleKind.EXCLUSION:
            assert 5.0 <= miss.closest_m <= 60.0
        assert not any(
            v.device_id == miss.device_id
            and v.requirement_id == miss.requirement_id
            and v.start <= miss.time <= v.end
            for v in busy.truth
        )


def test_fixes_arrive_sorted_by_received_at_some_late_out_of_order_and_twice(
    busy: Simulation,
) -> None:
    fixes = busy.fixes
    received = [f.received_at for f in fixes]
    assert all(r is not None for r in received)
    assert received == sorted(received)  # type: ignore[type-var]
    latency = np.array([(f.received_at - f.fix_time).total_seconds() for f in fixes])  # type: ignore[operator]
    assert latency.min() >= 0
    assert np.median(latency) < 5
    assert (latency > 600).sum() > 0  # buffered uploads
    copies = Counter((f.device_id, f.fix_time) for f in fixes)
    assert sum(n - 1 for n in copies.values()) > 0
    latest: dict[str, datetime] = {}
    backwards = 0
    for fix in fixes:
        if fix.fix_time < latest.get(fix.device_id, fix.fix_time):
            backwards += 1
        latest[fix.device_id] = max(latest.get(fix.device_id, fix.fix_time), fix.fix_time)
    assert backwards > 0


def test_reporting_interval_has_gaps_and_invalid_fixes(busy: Simulation) -> None:
    device = busy.fixes[0].device_id
    times = sorted({f.fix_time for f in busy.fixes if f.device_id == device})
    gaps = np.diff([t.timestamp() for t in times])
    assert np.median(gaps) == pytest.approx(BUSY.interval_s, abs=1.5)
    assert gaps.max() > 2 * BUSY.interval_s  # dropped fixes
    invalid = [f for f in busy.fixes if not f.valid]
    assert invalid
    assert all(f.satellites == 0 for f in invalid)


def test_gps_errors_are_as_specified(busy: Simulation) -> None:
    truth = busy.fix_truth
    assert truth is not None
    valid = np.array([f.valid for f in busy.fixes])
    accuracy = np.array([f.accuracy_m for f in busy.fixes])
    for sky, low, high in ((Sky.OPEN, 3, 8), (Sky.URBAN, 10, 35), (Sky.INDOOR, 30, 110)):
        here = valid & (truth.sky == sky)
        assert here.sum() > 100, sky
        r95 = np.percentile(truth.error_m[here], 95)
        assert low <= r95 <= high, (sky, r95)
    # The reported 95 % radius is about right: roughly 5-20 % of fixes lie beyond it.
    beyond = (truth.error_m[valid] > accuracy[valid]).mean()
    assert 0.03 < beyond < 0.25
    # Heavy tails in town and indoors: some fixes far beyond three times their radius.
    assert (truth.error_m[valid] > 3 * accuracy[valid]).sum() > 0


def test_the_gps_error_model_makes_receivers_worse_on_request(busy: Simulation) -> None:
    """Twice the error scale doubles true errors; more under-reporting shows as more fixes
    beyond their own reported radius. Same seed: only the error model differs."""
    worse = simulate(replace(BUSY, gps_error=GpsErrorModel(scale=2.0, under_reported_rate=0.2)))
    before, after = busy.fix_truth, worse.fix_truth
    assert before is not None and after is not None
    for sky in (Sky.OPEN, Sky.URBAN):
        r95_before = np.percentile(before.error_m[before.sky == sky], 95)
        r95_after = np.percentile(after.error_m[after.sky == sky], 95)
        assert 1.6 < r95_after / r95_before < 2.5, (sky, r95_before, r95_after)

    def beyond(sim: Simulation) -> float:
        assert sim.fix_truth is not None
        valid = np.array([f.valid for f in sim.fixes])
        accuracy = np.array([f.accuracy_m for f in sim.fixes])
        return float((sim.fix_truth.error_m[valid] > accuracy[valid]).mean())

    assert beyond(worse) > beyond(busy) + 0.05


@pytest.mark.parametrize(
    "knobs",
    [
        {"scale": 0.0},
        {"tail_df": 2.0},
        {"under_reported_rate": 1.5},
        {"under_reported_factor": (0.5, 0.2)},
        {"correlation_s": -1.0},
    ],
)
def test_a_meaningless_gps_error_model_is_refused(knobs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GpsErrorModel(**knobs)  # type: ignore[arg-type]


def test_battery_charging_and_beacons(busy: Simulation) -> None:
    kinds = Counter(e.kind.value for e in busy.device_events)
    assert kinds["battery_level"] > 8 * 2 * 80  # every 15 minutes, per tag
    assert kinds["charging_on"] > 0
    assert kinds["charging_off"] > 0
    assert kinds["strap_tamper"] == kinds["strap_restored"] > 0
    beacons = {
        rules.curfews[0].beacon_device_id for rules in busy.rule_book.subjects if rules.curfews
    }
    beacons.discard(None)
    if beacons:
        assert kinds["beacon_in_range"] > 0
        assert {e.device_id for e in busy.device_events if "beacon" in e.kind.value} <= beacons
    levels = [e.value for e in busy.device_events if e.kind.value == "battery_level"]
    assert all(v is not None and 0 <= v <= 100 for v in levels)


def test_requirements_are_what_orders_look_like(busy: Simulation) -> None:
    rules: list[SubjectRules] = list(busy.rule_book.subjects)
    assert len(rules) == BUSY.subjects
    for subject in rules:
        for curfew in subject.curfews:
            assert isinstance(curfew.address, Circle)
            assert 100 <= curfew.address.radius_m <= 150
            assert not curfew.schedule.always
            assert curfew.schedule.time_zone == "Europe/London"
        for zone in subject.zones:
            if isinstance(zone.shape, Circle):
                assert 150 <= zone.shape.radius_m <= 500
            elif zone.kind.value == "exclusion":
                ring = zone.shape.polygons[0][0]  # type: ignore[union-attr]
                assert 20 <= len(ring) <= 202
    centres = np.array(to_bng([t.lon for t in TOWNS], [t.lat for t in TOWNS])).T
    for track in busy.tracks.values():
        home = np.array([track.x[0], track.y[0]])
        assert np.hypot(*(centres - home).T).min() < 4000  # lives near a real town


def test_default_scenario_is_a_thousand_subject_days_across_the_clock_change() -> None:
    scenario = Scenario()
    assert scenario.subject_days >= 1000
    assert scenario.start == DEFAULT_START
    london = scenario.start.astimezone(
        local_instant(date(2026, 1, 1), time(0), "Europe/London").tzinfo
    )
    assert (london.hour, london.minute) == (23, 0)  # UTC; midnight in London (BST)
    last = (scenario.start + timedelta(days=scenario.days)).date()
    assert date(2026, 10, 25) <= last


def test_curfew_windows_follow_the_clocks_going_back() -> None:
    schedule = Schedule.every_day(time(19), time(7))
    windows = active_intervals(
        schedule,
        datetime(2026, 10, 24, 12, tzinfo=UTC),
        datetime(2026, 10, 26, 12, tzinfo=UTC),
    )
    saturday_night = windows[0]
    assert datetime.fromtimestamp(saturday_night[0], UTC) == datetime(2026, 10, 24, 18, tzinfo=UTC)
    assert datetime.fromtimestamp(saturday_night[1], UTC) == datetime(2026, 10, 25, 7, tzinfo=UTC)
    sunday_night = windows[1]
    assert datetime.fromtimestamp(sunday_night[0], UTC) == datetime(2026, 10, 25, 19, tzinfo=UTC)


def test_a_simulation_across_the_clock_change_keeps_normal_days_compliant() -> None:
    start = local_instant(date(2026, 10, 24), time(0), "Europe/London")
    sim = simulate(Scenario(seed=5, subjects=6, days=2, start=start))
    assert sim.end - sim.scenario.start == timedelta(hours=49)
    assert sim.fixes[-1].fix_time < sim.end
    for violation in sim.truth:
        assert any(
            i.device_id == violation.device_id and i.requirement_id == violation.requirement_id
            for i in sim.injections
        ), violation
    # Everyone with a curfew is at home at 06:30 GMT on Sunday, still inside the curfew.
    sunday_morning = datetime(2026, 10, 25, 6, 30, tzinfo=UTC).timestamp()
    for rules in sim.rule_book.subjects:
        for curfew in rules.curfews:
            address = curfew.address
            assert isinstance(address, Circle)
            x, y = sim.tracks[rules.device_ids[0]].xy_at([sunday_morning])
            absent = any(
                i.device_id == rules.device_ids[0] and i.kind == "curfew_absence"
                for i in sim.injections
            )
            assert absent or _inside(address, x, y).all()


def test_writer_and_cli_write_every_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--subjects", "2", "--days", "1", "--seed", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "fixes" in result.output
    lines = (tmp_path / "fixes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["fix_time"].endswith("Z")
    assert {"device_id", "lat", "lon", "accuracy_m", "valid", "received_at"} <= set(first)
    zones = json.loads((tmp_path / "zones.geojson").read_text())
    assert zones["type"] == "FeatureCollection"
    kinds = {f["properties"]["kind"] for f in zones["features"]}
    assert kinds <= {"exclusion", "inclusion", "curfew"}
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in zones["features"])
    subjects = json.loads((tmp_path / "subjects.json").read_text())
    assert len(subjects) == 2
    for name in ("device_events.jsonl", "truth.jsonl", "near_misses.jsonl"):
        assert (tmp_path / name).exists()


def test_writer_counts_lines(tmp_path: Path) -> None:
    sim = simulate(Scenario(seed=4, subjects=1, days=1))
    counts = write_simulation(sim, tmp_path / "out")
    assert counts["fixes.jsonl"] == len(sim.fixes)
    written = (tmp_path / "out" / "fixes.jsonl").read_text().count("\n")
    assert written == len(sim.fixes)
