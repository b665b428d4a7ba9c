"""`tagwatch bench engine` on a tiny scene, and the scene's placement of fixes checked by GEOS.

No timing assertions: the numbers are measured, never asserted. What is asserted is that the
run counts what it says it counts and that the scene puts fixes where the benchmark claims.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyproj
import pytest
import shapely

from tagwatch.bench.engine import engine_benchmark, engine_command, scheduled_now
from tagwatch.bench.scene import START, Scene, Situation, Track, make_scene, make_track
from tagwatch.domain.rules import DEFAULT_CRS
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import Area, Circle, ZoneKind

FIRST_KEYS = ["subjects", "zones_per_subject", "fixes_per_s", "baseline_fixes_per_s", "speedup"]
TO_GRID = pyproj.Transformer.from_crs("EPSG:4326", DEFAULT_CRS, always_xy=True)


def test_engine_benchmark_counts_every_fix_after_the_warm_up() -> None:
    summary = engine_benchmark(subjects=200, rounds=3, seed=1, baseline_sample=100)

    assert list(summary)[:5] == FIRST_KEYS
    assert summary["subjects"] == 200
    assert summary["zones_per_subject"] == 3
    assert summary["fixes"] == 200 * 2  # the first of three rounds is a warm-up
    assert summary["rounds_counted"] == 2
    assert summary["baseline_fixes"] == 100
    assert summary["fixes_per_s"] > 0
    assert summary["baseline_fixes_per_s"] > 0
    ratio = summary["fixes_per_s"] / summary["baseline_fixes_per_s"]
    assert summary["speedup"] == pytest.approx(ratio, rel=0.01, abs=0.1)
    assert sum(summary["placement"].values()) == pytest.approx(1.0, abs=1e-3)
    assert summary["events"] >= summary["episodes_opened"] + summary["approach_warnings"]


def test_each_side_is_timed_in_turn_and_its_fastest_repeat_counts() -> None:
    summary = engine_benchmark(subjects=200, rounds=3, seed=1, baseline_sample=100, repeats=4)

    engine_each, baseline_each = (
        summary["engine_cpu_seconds_each"],
        summary["baseline_cpu_seconds_each"],
    )
    assert summary["repeats"] == len(engine_each) == len(baseline_each) == 4
    assert summary["engine_cpu_seconds"] == min(engine_each)
    assert summary["baseline_cpu_seconds"] == min(baseline_each)
    assert summary["fixes"] == 200 * 2  # every repeat times the same counted rounds


def test_command_prints_the_summary_as_its_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "engine.prof"
    engine_command(subjects=50, rounds=2, seed=2, baseline_sample=20, profile=profile)

    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert list(summary)[:5] == FIRST_KEYS
    assert summary["fixes"] == 50
    assert profile.stat().st_size > 0


def test_a_run_needs_rounds_beyond_the_warm_up() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        engine_benchmark(subjects=10, rounds=1, baseline_sample=10)


def test_a_run_times_each_side_at_least_once() -> None:
    with pytest.raises(ValueError, match="at least once"):
        engine_benchmark(subjects=10, rounds=2, baseline_sample=10, repeats=0)


# --- the scene ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def placed() -> tuple[Scene, Track]:
    scene = make_scene(4000, seed=7)
    return scene, make_track(scene, rounds=2)


def _grid_shapes(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Every zone as a shapely polygon in grid metres, drawn from the rule book alone."""
    polygons, exclusion = [], []
    for subject in scene.book.subjects:
        for zone in subject.zones:
            shape = zone.shape
            if isinstance(shape, Circle):
                x, y = TO_GRID.transform(shape.lon, shape.lat)
                polygons.append(shapely.Point(x, y).buffer(shape.radius_m, quad_segs=64))
            else:
                assert isinstance(shape, Area)
                ring = np.asarray(shape.polygons[0][0])
                x, y = TO_GRID.transform(ring[:, 0], ring[:, 1])
                polygons.append(shapely.Polygon(np.column_stack((x, y))))
            exclusion.append(zone.kind is ZoneKind.EXCLUSION)
    n = scene.subjects
    return np.array(polygons, dtype=object).reshape(n, 3), np.array(exclusion).reshape(n, 3)


def test_scene_places_about_one_percent_inside_and_five_percent_near_edges(
    placed: tuple[Scene, Track],
) -> None:
    scene, track = placed
    polygons, exclusion = _grid_shapes(scene)
    x, y = TO_GRID.transform(track.lon, track.lat)
    points = shapely.points(x, y)[..., None]  # (rounds, subjects, 1) against (subjects, 3)
    inside = shapely.contains_xy(polygons[None], x[..., None], y[..., None])
    distance = shapely.distance(shapely.boundary(polygons)[None], points)

    violating = (inside & exclusion) | (~inside & ~exclusion)
    in_exclusion = (inside & exclusion).any(axis=-1)
    near = (distance <= 100.0).any(axis=-1) & ~violating.any(axis=-1)
    far = (distance >= 900.0).all(axis=-1) & ~violating.any(axis=-1)

    assert 0.006 <= in_exclusion.mean() <= 0.015
    assert not (~inside & ~exclusion).any(), "no fix leaves its district inclusion zone"
    assert 0.04 <= near.mean() <= 0.06
    assert far.mean() >= 0.92
    # The scene's own labels agree with GEOS (a centimetre of rounding may flip a rare one).
    assert np.mean(in_exclusion == (track.situation == Situation.INSIDE)) >= 0.999
    assert np.mean(near == (track.situation == Situation.NEAR)) >= 0.999


def test_scene_mixes_circles_and_polygons_half_of_them_scheduled(
    placed: tuple[Scene, Track],
) -> None:
    scene, _ = placed
    zones = [zone for subject in scene.book.subjects for zone in subject.zones]
    circles = [zone.shape for zone in zones if isinstance(zone.shape, Circle)]
    areas = [zone.shape for zone in zones if isinstance(zone.shape, Area)]
    vertices = np.array([len(area.polygons[0][0]) - 1 for area in areas])  # rings are closed

    assert 0.3 <= len(circles) / len(zones) <= 0.45
    assert all(100.0 <= circle.radius_m <= 500.0 for circle in circles)
    assert vertices.min() >= 20 and vertices.max() <= 200
    assert 0.45 <= np.mean([not zone.schedule.always for zone in zones]) <= 0.55
    lons = np.array([circle.lon for circle in circles])
    lats = np.array([circle.lat for circle in circles])
    assert lons.min() >= -0.8 and lons.max() <= 0.25
    assert lats.min() >= 51.55 and lats.max() <= 52.15


def test_the_same_seed_gives_the_same_scene() -> None:
    first, second = make_scene(30, seed=3), make_scene(30, seed=3)
    assert first.book == second.book
    assert np.array_equal(make_track(first, 2).lon, make_track(second, 2).lon)


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [("2026-11-03T12:00", False), ("2026-11-03T20:00", True), ("2026-11-04T06:59", True)],
)
def test_the_baseline_schedule_check_handles_overnight_windows(
    local_time: str, expected: bool
) -> None:
    night = Schedule.every_day(time(19), time(7))
    when = datetime.fromisoformat(local_time).replace(tzinfo=ZoneInfo("Europe/London"))
    assert scheduled_now(night, when) is expected


def test_the_scene_starts_on_a_weekday_noon_so_some_schedules_are_off() -> None:
    london = START.astimezone(ZoneInfo("Europe/London"))
    assert london.weekday() == 1 and london.hour == 12
