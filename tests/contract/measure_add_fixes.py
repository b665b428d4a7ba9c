"""A measurement, not a test: add_fixes throughput of the SQLite store as history grows.

    .venv/bin/python tests/contract/measure_add_fixes.py [--total 2000000] [--dir /tmp]

Batches of 1,000 fixes, each committed in its own transaction (as the monitor does, with
synchronous=FULL), from 2,000 devices reporting once a minute around Hertfordshire. Prints
fixes/s on an empty database and again after `--total` fixes, plus the latency of a
crime-scene query and of a day's trail at that size. Fix objects are built before the
clock starts, so the figures are the store's own cost.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagwatch.domain.positions import Fix
from tagwatch.store import SqliteStore

DEVICES = 2000
BATCH = 1000
T0 = datetime(2026, 11, 2, tzinfo=UTC)
CENTRE = (-0.336, 51.752)


def batch(number: int, rng: random.Random) -> list[Fix]:
    fixes = []
    for i in range(number * BATCH, (number + 1) * BATCH):
        device, minute = i % DEVICES, i // DEVICES
        fixes.append(
            Fix(
                device_id=f"35630704{device:07d}",
                fix_time=T0 + timedelta(minutes=minute, seconds=device % 60),
                lat=CENTRE[1] + rng.uniform(-0.2, 0.2),
                lon=CENTRE[0] + rng.uniform(-0.3, 0.3),
                accuracy_m=rng.uniform(3, 40),
                received_at=T0 + timedelta(minutes=minute, seconds=device % 60 + 2),
                speed_mps=rng.uniform(0, 2),
                satellites=9,
            )
        )
    return fixes


def timed_batches(store: SqliteStore, first: int, count: int, rng: random.Random) -> float:
    """Seconds to store `count` batches, one transaction each."""
    batches = [batch(n, rng) for n in range(first, first + count)]
    started = time.perf_counter()
    for fixes in batches:
        with store.transaction() as tx:
            tx.fixes.add_fixes(fixes)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=2_000_000)
    parser.add_argument("--sample", type=int, default=50, help="batches per measurement")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        store = SqliteStore(Path(folder) / "measure.db")
        store.open()
        sample = args.sample * BATCH
        empty = sample / timed_batches(store, 0, args.sample, rng)
        print(f"empty database: {empty:,.0f} fixes/s")
        done, filling = args.sample, 0.0
        while done < args.total // BATCH:
            step = min(200, args.total // BATCH - done)
            took = timed_batches(store, done, step, rng)
            filling += took
            done += step
            if done // 400 != (done - step) // 400:  # every 400,000 fixes
                print(f"  at {done * BATCH:,} fixes: {step * BATCH / took:,.0f} fixes/s")
        fill_rate = (done - args.sample) * BATCH / filling
        print(f"filled to {store.fixes.count_fixes():,} fixes at {fill_rate:,.0f} fixes/s")
        full = sample / timed_batches(store, done, args.sample, rng)
        print(f"after {done * BATCH:,} fixes: {full:,.0f} fixes/s")

        last = T0 + timedelta(minutes=done * BATCH // DEVICES)
        started = time.perf_counter()
        hits = store.fixes.fixes_near(*CENTRE, 300.0, last - timedelta(hours=2), last)
        near_ms = (time.perf_counter() - started) * 1000
        print(f"fixes_near 300 m, 2 h: {len(hits)} hits in {near_ms:.1f} ms")
        started = time.perf_counter()
        hits = store.fixes.fixes_near(*CENTRE, 300.0, T0, last)
        near_ms = (time.perf_counter() - started) * 1000
        print(f"fixes_near 300 m, all history: {len(hits)} hits in {near_ms:.1f} ms")
        started = time.perf_counter()
        trail = store.fixes.trail(
            start=last - timedelta(days=1), end=last, device_ids=["356307040000007"]
        )
        print(
            f"trail of one device, 1 day: {len(trail)} fixes in "
            f"{(time.perf_counter() - started) * 1000:.1f} ms"
        )
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(f"database size: {size / 1e6:,.0f} MB ({size / (done * BATCH):.0f} B/fix)")
        store.close()


if __name__ == "__main__":
    main()
