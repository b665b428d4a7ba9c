"""Stored history for the full-database run: millions of fixes written straight to the store.

Not over HTTP (that would take longer than the benchmark): numpy makes the columns and the
store's bulk import (`import_fix_columns`: SQLite's column layout, PostgreSQL's COPY) writes
them in transactions of a million rows, in arrival order (time-major, as tags report), so
the run measures ingest into tables and indexes that already hold them.

The history belongs to `HISTORY_TAGS` tags (the benchmark's own and retired ones), one fix
every 30 s each, and ends just before the monitor's lateness window: the monitor rebuilds
its state from that window when it starts, and the benchmark measures ingest, not start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from tagwatch.bench.ingest_scene import AREA, METRES_PER_DEGREE_LAT, ROAM_M, Population
from tagwatch.store import SqliteStore, create_store
from tagwatch.store.postgres import PostgresStore
from tagwatch.store.sqlite.columns import to_ms
from tagwatch.store.sqlite.fix_layout import FixColumns

HISTORY_TAGS = 2_000
INTERVAL_MS = 30_000
ROWS_PER_TRANSACTION = 1_000_000


def history_device_ids(population: Population, tags: int = HISTORY_TAGS) -> list[str]:
    own = [tag.device_id for tag in population.tags]
    return own + [f"retired-t{i:05d}" for i in range(max(tags - len(own), 0))]


def fill_history(
    store_url: str,
    population: Population,
    total: int,
    end: datetime,
    *,
    seed: int = 3,
    progress: Callable[[str], None] = lambda _: None,
) -> float:
    """Write `total` fixes ending at `end` into the store at `store_url`; seconds taken."""
    started = time.monotonic()
    devices = history_device_ids(population)
    rng = np.random.default_rng(seed)
    home_lon = rng.uniform(AREA[0], AREA[2], len(devices))
    home_lat = rng.uniform(AREA[1], AREA[3], len(devices))
    for i, tag in enumerate(population.tags):
        home_lon[i], home_lat[i] = tag.home
    rounds = -(-total // len(devices))
    first_ms = to_ms(end) - rounds * INTERVAL_MS
    # Tags report at their own second within the interval, not all at once.
    phase = (np.arange(len(devices)) * INTERVAL_MS) // len(devices)
    degrees = ROAM_M / METRES_PER_DEGREE_LAT
    store = create_store(store_url)
    # The bulk import is each store's own fast path, not part of the store contract.
    if not isinstance(store, SqliteStore | PostgresStore):
        raise TypeError(f"no bulk import for {store_url}")
    store.open()
    try:
        for start in range(0, total, ROWS_PER_TRANSACTION):
            index = np.arange(start, min(start + ROWS_PER_TRANSACTION, total), dtype=np.int64)
            device = index % len(devices)
            size = len(index)
            columns = FixColumns(
                device=device,
                fix_time_ms=first_ms + (index // len(devices)) * INTERVAL_MS + phase[device],
                lat=home_lat[device] + rng.uniform(-degrees, degrees, size),
                lon=home_lon[device] + rng.uniform(-degrees, degrees, size) * 1.6,
                accuracy_m=rng.uniform(4.0, 30.0, size).round(1),
            )
            store.fixes.import_fix_columns(devices, columns)
            done = start + size
            elapsed = time.monotonic() - started
            progress(f"  stored {done:,} of {total:,} fixes ({done / elapsed:,.0f}/s)")
    finally:
        store.close()
    return time.monotonic() - started


def history_end(now: datetime, allowed_lateness_s: float) -> datetime:
    """The end of the history: an hour before the lateness window the monitor replays."""
    return now - timedelta(seconds=allowed_lateness_s) - timedelta(hours=1)
