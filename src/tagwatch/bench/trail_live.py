"""Live fixes written into a store while `tagwatch bench trail` times its questions.

Crime-scene questions are asked of a store that keeps taking fixes: a monitor commits a
step every moment. So the benchmark times its questions twice: on the store at rest, and
while a writer adds live fixes at `--ingest-rate` through the store's `add_fixes` (the
monitor's own write path, one transaction per step). The writer is a process of its own,
as the monitor is (in the embedded default a thread of the server: a process here keeps
the benchmark's interpreter lock out of the figure, so what is measured is the store).

Live fixes continue the stored history: later minutes of the same tags, in minute order,
starting after every question's window, so they do not change any answer.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

import numpy as np

from tagwatch.bench.trail_population import NOISE_M, RECEIVED_AFTER, Population
from tagwatch.domain.positions import Fix
from tagwatch.store import create_store

STEP_S = 0.5  # a monitor step's commit every half second
READY_TIMEOUT_S = 60.0
# Live fixes start this long after the history ends: a question about its last minutes has
# a window reaching up to 75 minutes past them, and must not see live fixes.
GAP_MINUTES = 120


def live_fixes(population: Population, first: int, count: int) -> list[Fix]:
    """Fixes `first` to `first + count` of the live feed: every tag at one minute, GAP_MINUTES
    after the history, then the next minute, and so on."""
    numbers = np.arange(first, first + count, dtype=np.int64)
    tags = numbers % population.tags
    later = numbers // population.tags  # minutes after the live feed's first
    minutes = population.minutes + GAP_MINUTES + later
    lon, lat = population.positions(tags, minutes)
    device_ids = population.device_ids()
    fixes = []
    live_start = population.end + timedelta(minutes=GAP_MINUTES)
    for tag, minute, fix_lon, fix_lat in zip(
        tags.tolist(), later.tolist(), lon.tolist(), lat.tolist(), strict=True
    ):
        fix_time = live_start + timedelta(minutes=minute)
        fixes.append(
            Fix(
                device_ids[tag],
                fix_time,
                fix_lat,
                fix_lon,
                NOISE_M,
                received_at=fix_time + RECEIVED_AFTER,
            )
        )
    return fixes


@dataclass(frozen=True, slots=True)
class LiveFeed:
    store_url: str
    population: Population
    rate: float  # fixes/s

    def per_step(self) -> int:
        return max(1, round(self.rate * STEP_S))


def write_live(feed: LiveFeed, ready: Event, stop: Event, written: Synchronized[int]) -> None:
    """The writer process: a step of fixes every STEP_S until `stop`, catching up in the
    next step when a commit took longer than its share."""
    store = create_store(feed.store_url)
    store.open()
    try:
        count = 0
        started = time.perf_counter()
        while not stop.is_set():
            due = max(feed.per_step(), round(feed.rate * (time.perf_counter() - started)) - count)
            with store.transaction() as tx:
                tx.fixes.add_fixes(live_fixes(feed.population, count, due))
            count += due
            written.value = count
            ready.set()
            next_step = started + count / feed.rate
            stop.wait(max(0.0, next_step - time.perf_counter()))
    finally:
        store.close()


@dataclass(slots=True)
class Ingesting:
    """What the writer did while it ran: fixes written and the seconds it ran."""

    fixes: int = 0
    seconds: float = 0.0

    @property
    def fixes_per_s(self) -> float:
        return self.fixes / self.seconds if self.seconds > 0 else 0.0


@contextlib.contextmanager
def ingesting(feed: LiveFeed) -> Iterator[Ingesting]:
    """Runs the writer for the length of the block; the result is filled in at its end."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    written = context.Value("q", 0)
    writer = context.Process(
        target=write_live, args=(feed, ready, stop, written), name="trail-live-writer"
    )
    writer.start()
    result = Ingesting()
    try:
        waited_until = time.perf_counter() + READY_TIMEOUT_S
        while not ready.wait(0.1):  # a writer that failed to start is not waited for
            if not writer.is_alive() or time.perf_counter() > waited_until:
                raise RuntimeError("the live writer did not commit its first step")
        first, started = written.value, time.perf_counter()
        yield result
        result.fixes = written.value - first
        result.seconds = time.perf_counter() - started
    finally:
        stop.set()
        writer.join(READY_TIMEOUT_S)
        if writer.is_alive():
            writer.kill()
    if writer.exitcode != 0:
        raise RuntimeError(f"the live writer failed (exit code {writer.exitcode})")
