"""The same-run baseline of `tagwatch bench ingest`: the store's own add_fixes rate.

Fixes are built before the clock starts and committed 1,000 to a transaction, as the
monitor commits them, into a fresh database of the same kind, with nothing else running:
what the store alone can take on this machine at this moment. End-to-end ingest also
decodes HTTP, validates, writes the log, reads it back and runs the engine, all on the
same two cores, so it is a fraction of this.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from tagwatch.domain.positions import Fix
from tagwatch.store import Store

BATCH = 1000
DEVICES = 2000


def store_add_fixes_rate(store: Store, fixes: int, end: datetime, *, seed: int = 5) -> float:
    """add_fixes throughput (fixes/s) of an open, empty store."""
    rng = random.Random(seed)
    start = end - timedelta(minutes=fixes // DEVICES + 1)
    batches = []
    for first in range(0, fixes, BATCH):
        batch = []
        for i in range(first, min(first + BATCH, fixes)):
            device, minute = i % DEVICES, i // DEVICES
            moment = start + timedelta(minutes=minute, seconds=device % 60)
            batch.append(
                Fix(
                    device_id=f"baseline-t{device:05d}",
                    fix_time=moment,
                    lat=51.75 + rng.uniform(-0.2, 0.2),
                    lon=-0.34 + rng.uniform(-0.3, 0.3),
                    accuracy_m=rng.uniform(4.0, 30.0),
                    received_at=moment + timedelta(seconds=2),
                    speed_mps=0.4,
                    satellites=9,
                )
            )
        batches.append(batch)
    started = time.perf_counter()
    for batch in batches:
        with store.transaction() as tx:
            tx.fixes.add_fixes(batch)
    return fixes / (time.perf_counter() - started)
