"""Fixes: idempotent writes, trails, latest positions, counts and retention."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from contractkit import ST_ALBANS, T0, make_fix, minutes, seed_subject

from tagwatch.domain.positions import Fix, FixSource
from tagwatch.store import Store


def test_the_same_fix_twice_is_stored_once(store: Store) -> None:
    fix = make_fix("tag-1", minutes(1))
    assert store.fixes.add_fixes([fix]) == 1
    assert store.fixes.add_fixes([fix]) == 0
    assert store.fixes.count_fixes() == 1


def test_only_new_fixes_are_counted_even_within_one_batch(store: Store) -> None:
    a, b, c = (make_fix("tag-1", minutes(n)) for n in (1, 2, 3))
    store.fixes.add_fixes([a])
    assert store.fixes.add_fixes([a, b, b, c, make_fix("tag-2", minutes(1))]) == 3
    assert store.fixes.count_fixes() == 4
    assert store.fixes.add_fixes([]) == 0


def test_the_first_fix_stored_for_a_device_and_time_wins(store: Store) -> None:
    first = make_fix("tag-1", minutes(1), lat=51.70)
    store.fixes.add_fixes([first])
    assert store.fixes.add_fixes([make_fix("tag-1", minutes(1), lat=51.80)]) == 0
    assert store.fixes.trail(start=T0, end=minutes(2), device_ids=["tag-1"]) == [first]
    assert store.fixes.latest_fixes()["tag-1"] == first


def test_a_fix_round_trips_with_every_field(store: Store) -> None:
    full = Fix(
        device_id="356307042441013",
        fix_time=minutes(1),
        lat=51.752123456789,
        lon=-0.336987654321,
        accuracy_m=7.5,
        received_at=minutes(1) + timedelta(seconds=3, milliseconds=250),
        device_time=minutes(1) + timedelta(seconds=1),
        speed_mps=1.4,
        heading_deg=271.0,
        altitude_m=112.5,
        satellites=9,
        hdop=0.8,
        source=FixSource.WIFI,
    )
    no_position = Fix("tag-2", minutes(2), lat=0.0, lon=0.0, accuracy_m=0.0, valid=False)
    store.fixes.add_fixes([full, no_position])
    assert store.fixes.trail(start=T0, end=minutes(5), device_ids=[full.device_id]) == [full]
    assert store.fixes.trail(start=T0, end=minutes(5), device_ids=["tag-2"]) == [no_position]


def test_fix_times_keep_whole_milliseconds_which_are_the_identity(store: Store) -> None:
    precise = make_fix("tag-1", minutes(1) + timedelta(microseconds=123_456))
    store.fixes.add_fixes([precise])
    same_ms = make_fix("tag-1", minutes(1) + timedelta(microseconds=123_999))
    assert store.fixes.add_fixes([same_ms]) == 0
    (stored,) = store.fixes.trail(start=T0, end=minutes(2), device_ids=["tag-1"])
    assert stored.fix_time == minutes(1) + timedelta(microseconds=123_000)
    assert stored.fix_time.tzinfo is not None
    assert stored.fix_time.utcoffset() == timedelta(0)


def test_a_trail_is_in_fix_time_order_whatever_the_arrival_order(store: Store) -> None:
    fixes = [make_fix(device, minutes(n)) for n in range(30) for device in ("tag-b", "tag-a")]
    shuffled = fixes[:]
    random.Random(7).shuffle(shuffled)
    for i in range(0, len(shuffled), 7):  # several batches, late and out of order
        store.fixes.add_fixes(shuffled[i : i + 7])
    trail = store.fixes.trail(start=T0, end=minutes(60), device_ids=["tag-b", "tag-a"])
    assert [(f.fix_time, f.device_id) for f in trail] == sorted(
        (f.fix_time, f.device_id) for f in fixes
    )


def test_a_trail_includes_both_ends_of_its_range(store: Store) -> None:
    times = [minutes(n) + timedelta(milliseconds=d) for n in (10, 20) for d in (-1, 0, 1)]
    store.fixes.add_fixes([make_fix("tag-1", t) for t in times])
    trail = store.fixes.trail(start=minutes(10), end=minutes(20), device_ids=["tag-1"])
    assert [f.fix_time for f in trail] == times[1:5]
    sub_ms_start = minutes(10) + timedelta(microseconds=1)  # after the fix at minutes(10)
    later = store.fixes.trail(start=sub_ms_start, end=minutes(20), device_ids=["tag-1"])
    assert [f.fix_time for f in later] == times[2:5]


def test_a_trail_crosses_month_and_year_boundaries(store: Store) -> None:
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    times = [new_year + timedelta(hours=h) for h in (-745, -2, -0.001, 0, 3, 800)]
    store.fixes.add_fixes([make_fix("tag-1", t) for t in times])
    trail = store.fixes.trail(start=times[1], end=times[4], device_ids=["tag-1"])
    assert [f.fix_time for f in trail] == times[1:5]
    everything = store.fixes.trail(start=times[0], end=times[-1], device_ids=["tag-1"])
    assert len(everything) == 6


def test_a_long_trail_misses_no_fix_at_any_edge(store: Store) -> None:
    """Fixes on both sides of every five-minute and hour boundary for five days."""
    edges = [minutes(5 * k) + timedelta(milliseconds=d) for k in range(1, 5 * 288) for d in (-1, 0)]
    store.fixes.add_fixes([make_fix("tag-1", t) for t in edges])
    trail = store.fixes.trail(start=T0, end=minutes(5 * 5 * 288), device_ids=["tag-1"])
    assert [f.fix_time for f in trail] == edges
    assert store.fixes.count_fixes(device_id="tag-1", start=T0, end=edges[-1]) == len(edges)


def test_a_subjects_trail_follows_their_devices_only_while_assigned(store: Store) -> None:
    seed_subject(store, "subject-1", "tag-1", start=T0, end=minutes(30))
    seed_subject(store, "subject-2", "tag-1", start=minutes(30))
    seed_subject(store, "subject-1", "tag-2", start=minutes(30))
    store.fixes.add_fixes(
        [make_fix(d, minutes(n)) for n in range(-5, 60, 5) for d in ("tag-1", "tag-2")]
    )
    trail = store.fixes.trail(start=minutes(-60), end=minutes(60), subject_id="subject-1")
    expected = [("tag-1", minutes(n)) for n in range(0, 30, 5)]
    expected += [("tag-2", minutes(n)) for n in range(30, 60, 5)]
    assert [(f.device_id, f.fix_time) for f in trail] == expected
    assert store.fixes.trail(start=T0, end=minutes(60), subject_id="subject-9") == []


def test_a_trail_can_skip_invalid_fixes_and_stop_at_a_limit(store: Store) -> None:
    fixes = [make_fix("tag-1", minutes(n)) for n in range(10)]
    fixes[3] = Fix("tag-1", minutes(3), 0.0, 0.0, 0.0, valid=False)
    store.fixes.add_fixes(fixes)
    valid = store.fixes.trail(start=T0, end=minutes(10), device_ids=["tag-1"], valid_only=True)
    assert minutes(3) not in [f.fix_time for f in valid]
    assert len(valid) == 9
    first4 = store.fixes.trail(start=T0, end=minutes(10), device_ids=["tag-1"], limit=4)
    assert [f.fix_time for f in first4] == [minutes(n) for n in range(4)]


def test_a_trail_needs_exactly_one_of_devices_or_subject(store: Store) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        store.fixes.trail(start=T0, end=minutes(1))
    with pytest.raises(ValueError, match="exactly one"):
        store.fixes.trail(start=T0, end=minutes(1), device_ids=["tag-1"], subject_id="s")


def test_latest_fixes_follow_fix_time_not_arrival(store: Store) -> None:
    store.fixes.add_fixes([make_fix("tag-1", minutes(10)), make_fix("tag-2", minutes(1))])
    store.fixes.add_fixes([make_fix("tag-1", minutes(5))])  # late upload of an older fix
    no_gps = Fix("tag-2", minutes(8), 0.0, 0.0, 0.0, valid=False)
    store.fixes.add_fixes([no_gps])

    latest = store.fixes.latest_fixes()
    assert {d: f.fix_time for d, f in latest.items()} == {"tag-1": minutes(10), "tag-2": minutes(8)}
    assert latest["tag-2"] == no_gps
    valid = store.fixes.latest_fixes(valid_only=True)
    assert {d: f.fix_time for d, f in valid.items()} == {"tag-1": minutes(10), "tag-2": minutes(1)}
    assert list(store.fixes.latest_fixes(["tag-2", "tag-9"])) == ["tag-2"]


def test_counting_fixes_by_device_and_time(store: Store) -> None:
    store.fixes.add_fixes([make_fix(d, minutes(n)) for n in range(20) for d in ("tag-1", "tag-2")])
    december = datetime(2026, 12, 3, tzinfo=UTC)
    store.fixes.add_fixes([make_fix("tag-1", december)])
    assert store.fixes.count_fixes() == 41
    assert store.fixes.count_fixes(device_id="tag-1") == 21
    assert store.fixes.count_fixes(device_id="tag-9") == 0
    assert store.fixes.count_fixes(start=minutes(5), end=minutes(9)) == 10
    assert store.fixes.count_fixes(device_id="tag-2", start=minutes(15)) == 5
    assert store.fixes.count_fixes(start=december) == 1
    assert store.fixes.count_fixes(end=minutes(0)) == 2


def test_retention_drops_old_history_and_never_recent_fixes(store: Store) -> None:
    old = [datetime(2026, 8, 10, tzinfo=UTC), datetime(2026, 9, 20, tzinfo=UTC)]
    recent = [datetime(2026, 10, 30, tzinfo=UTC), T0]
    store.fixes.add_fixes([make_fix("tag-1", t) for t in old + recent])
    store.fixes.add_fixes([make_fix("tag-gone", old[1])])
    cutoff = datetime(2026, 10, 15, tzinfo=UTC)

    removed = store.fixes.drop_fixes_before(cutoff)

    assert removed == 3
    kept = store.fixes.trail(start=old[0], end=T0, device_ids=["tag-1"])
    assert [f.fix_time for f in kept] == recent
    assert store.fixes.count_fixes() == 2
    assert list(store.fixes.latest_fixes()) == ["tag-1"]  # no fix of tag-gone is left
    assert store.fixes.drop_fixes_before(cutoff) == 0
    store.fixes.add_fixes([make_fix("tag-1", old[0])])  # a month can come back
    assert store.fixes.count_fixes() == 3


def test_fixes_of_a_busy_day_come_back_complete(store: Store) -> None:
    rng = random.Random(3)
    devices = [f"tag-{i}" for i in range(40)]
    fixes = [make_fix(d, minutes(n), *ST_ALBANS) for d in devices for n in range(0, 24 * 60, 30)]
    rng.shuffle(fixes)
    for i in range(0, len(fixes), 250):
        store.fixes.add_fixes(fixes[i : i + 250])
    assert store.fixes.count_fixes() == len(fixes)
    assert len(store.fixes.latest_fixes()) == len(devices)
    trail = store.fixes.trail(start=T0, end=minutes(24 * 60), device_ids=devices[:3])
    assert len(trail) == 3 * 48
