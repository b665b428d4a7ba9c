"""Crime-scene correlation: every fix within a radius of a point between two times."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from contractkit import ST_ALBANS, T0, make_fix, minutes, offset, scatter, seed_subject

from tagwatch.domain.positions import Fix
from tagwatch.store import Store

EARTH_RADIUS_M = 6_371_008.8
# Stores may measure on the sphere or the spheroid: fixes this close to the edge may go
# either way, so the comparisons below leave them out.
EDGE = 0.005


def great_circle_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def brute_force(
    fixes: list[Fix], lon: float, lat: float, radius_m: float, start: datetime, end: datetime
) -> tuple[set[tuple[str, datetime]], set[tuple[str, datetime]]]:
    """(certainly within, on the edge) as (device, fix_time) keys."""
    inside, edge = set(), set()
    for fix in fixes:
        if not fix.valid or not start <= fix.fix_time <= end:
            continue
        distance = great_circle_m(lon, lat, fix.lon, fix.lat)
        if abs(distance - radius_m) <= EDGE * radius_m:
            edge.add((fix.device_id, fix.fix_time))
        elif distance < radius_m:
            inside.add((fix.device_id, fix.fix_time))
    return inside, edge


def assert_matches_brute_force(
    store: Store,
    fixes: list[Fix],
    lon: float,
    lat: float,
    radius_m: float,
    start: datetime,
    end: datetime,
) -> int:
    hits = store.fixes.fixes_near(lon, lat, radius_m, start, end)
    found = {(h.fix.device_id, h.fix.fix_time) for h in hits}
    inside, edge = brute_force(fixes, lon, lat, radius_m, start, end)
    assert found - edge == inside
    assert len(found) == len(hits)
    for hit in hits:
        expected = great_circle_m(lon, lat, hit.fix.lon, hit.fix.lat)
        assert hit.distance_m == pytest.approx(expected, rel=EDGE, abs=0.5)
    assert [(h.fix.fix_time, h.fix.device_id) for h in hits] == sorted(
        (h.fix.fix_time, h.fix.device_id) for h in hits
    )
    return len(inside)


@pytest.fixture
def crowd(store: Store) -> list[Fix]:
    """Three days of 30 devices wandering within 3 km of St Albans, across a month end."""
    rng = random.Random(20261105)
    start = datetime(2026, 10, 30, 12, tzinfo=UTC)
    fixes = []
    for d in range(30):
        for n in range(0, 3 * 24 * 60, 20):
            lon, lat = scatter(rng, ST_ALBANS, 3000.0 if d % 3 else 400.0)
            fixes.append(make_fix(f"tag-{d:02d}", start + timedelta(minutes=n), lon, lat))
    fixes.append(Fix("tag-00", start + timedelta(seconds=7), *ST_ALBANS[::-1], 5.0, valid=False))
    store.fixes.add_fixes(fixes)
    return fixes


@pytest.mark.parametrize("radius_m", [50.0, 300.0, 1000.0, 12_000.0])
def test_fixes_near_a_point_match_brute_force(
    store: Store, crowd: list[Fix], radius_m: float
) -> None:
    rng = random.Random(int(radius_m))
    for _ in range(5):
        lon, lat = scatter(rng, ST_ALBANS, 1500.0)
        begin = datetime(2026, 10, 30, 12, tzinfo=UTC) + timedelta(minutes=rng.randrange(4000))
        finish = begin + timedelta(hours=rng.choice([1, 6, 30]))
        assert_matches_brute_force(store, crowd, lon, lat, radius_m, begin, finish)


def test_the_crime_scene_query_finds_someone(store: Store, crowd: list[Fix]) -> None:
    begin, finish = datetime(2026, 10, 31, 22, tzinfo=UTC), datetime(2026, 11, 1, 2, tzinfo=UTC)
    found = assert_matches_brute_force(store, crowd, *ST_ALBANS, 300.0, begin, finish)
    assert found > 0  # the query above compared something, not two empty sets


def test_time_bounds_of_a_proximity_query_are_inclusive(store: Store) -> None:
    store.fixes.add_fixes([make_fix("tag-1", minutes(n)) for n in range(5)])
    hits = store.fixes.fixes_near(*ST_ALBANS, 10.0, minutes(1), minutes(3))
    assert [h.fix.fix_time for h in hits] == [minutes(1), minutes(2), minutes(3)]


def test_a_hit_names_who_wore_the_device_at_that_time(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0, end=minutes(10))
    seed_subject(store, "subject-2", "tag-1", start=minutes(10))
    store.fixes.add_fixes([make_fix(d, minutes(n)) for n in (-5, 5, 15) for d in ("tag-1",)])
    hits = store.fixes.fixes_near(*ST_ALBANS, 100.0, minutes(-10), minutes(20))
    assert [(h.fix.fix_time, h.subject_id) for h in hits] == [
        (minutes(-5), None),
        (minutes(5), "subject-1"),
        (minutes(15), "subject-2"),
    ]


def test_a_fix_just_outside_the_radius_is_not_a_hit(store: Store) -> None:
    lon, lat = ST_ALBANS
    store.fixes.add_fixes(
        [
            make_fix("tag-in", minutes(1), *offset(lon, lat, 0.0, 295.0)),
            make_fix("tag-out", minutes(1), *offset(lon, lat, 212.0, 212.0)),  # 299.8 m
            make_fix("tag-far", minutes(1), *offset(lon, lat, -305.0, 0.0)),
        ]
    )
    hits = store.fixes.fixes_near(lon, lat, 298.0, T0, minutes(2))
    assert [h.fix.device_id for h in hits] == ["tag-in"]
    assert hits[0].distance_m == pytest.approx(295.0, rel=EDGE)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(179.999, -16.5), (-179.9995, 65.0), (10.0, 89.999), (0.0, 0.0)],
    ids=["antimeridian-east", "antimeridian-west", "pole", "null-island"],
)
def test_proximity_works_at_the_edges_of_the_map(store: Store, lon: float, lat: float) -> None:
    rng = random.Random(5)
    fixes = []
    for i in range(300):
        east, north = rng.uniform(-900, 900), rng.uniform(-900, 900)
        p_lon, p_lat = offset(lon, lat, east, north)
        p_lon = (p_lon + 180.0) % 360.0 - 180.0
        if -90.0 <= p_lat <= 90.0:
            fixes.append(make_fix(f"tag-{i % 7}", minutes(i), p_lon, p_lat))
    store.fixes.add_fixes(fixes)
    found = assert_matches_brute_force(store, fixes, lon, lat, 600.0, T0, minutes(400))
    assert found > 0


def test_a_proximity_query_refuses_impossible_points(store: Store) -> None:
    with pytest.raises(ValueError, match="out of range"):
        store.fixes.fixes_near(-0.3, 95.0, 100.0, T0, minutes(1))
