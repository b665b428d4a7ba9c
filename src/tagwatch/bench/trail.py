"""`tagwatch bench trail`: crime-scene correlation over millions of stored fixes, both stores.

The question a police analyst asks: "every subject within 300 m of this point between these
two times". The benchmark stores `--fixes` fixes (20 million by default) in each store and
times 100 random questions through the store's own `fixes_near`, the same questions for
both, and reports p50 and p99 in milliseconds.

The population: `--days` days (7) of one fix a minute per tag, so `fixes / (days * 1440)`
tags (1,984 for the defaults), each registered as a device assigned to a subject (so every
hit names its wearer, as in a real query). Each tag has a home somewhere in a 40 km square
around St Albans and wanders within about 3 km of it on two slow sine waves (periods of 3
to 12 hours), with 10 m of GPS noise.

The questions: a random stored fix (random tag, random minute), a point up to 200 m from it,
and a window of 45 to 75 minutes that contains that fix - so each question is about a place
and time where somebody was, which is the case that has to be fast (an empty answer is
cheap for any index). 10 more questions are asked first and not timed: connections and the
first pages are warmed. Timing is wall time around the `fixes_near` call, result objects
included.

Filling is the slow part: the stores' bulk-import paths (`import_fix_columns`: SQLite in
transactions of `--batch` fixes, PostgreSQL through COPY), in time order as a live system
writes. `--keep` keeps the databases, `--reuse` reuses kept ones that already hold the
fixes (same `--fixes`, `--days`, `--seed`).
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import psycopg
import typer

from tagwatch.bench.report import emit, progress
from tagwatch.bench.scratch_databases import create_database, drop_database
from tagwatch.domain.people import Assignment, Device, Subject
from tagwatch.store import SqliteStore
from tagwatch.store.postgres import PostgresStore
from tagwatch.store.sqlite.fix_layout import FixColumns

DEFAULT_FIXES = 20_000_000
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 10, 1, tzinfo=UTC)
CENTRE = (-0.336, 51.752)  # St Albans, lon/lat
HALF_SIDE_M = 20_000.0
WANDER_M = 3_000.0
NOISE_M = 10.0
RADIUS_M = 300.0
QUERIES = 100
WARM_UP = 10
M_PER_DEG_LAT = 111_195.0  # on the mean sphere


@dataclass(frozen=True, slots=True)
class Population:
    tags: int
    minutes: int
    seed: int

    @property
    def fixes(self) -> int:
        return self.tags * self.minutes

    def device_ids(self) -> list[str]:
        return [f"tag-{i:06d}" for i in range(self.tags)]

    def _params(self) -> dict[str, npt.NDArray[np.float64]]:
        rng = np.random.default_rng(self.seed)
        n = self.tags
        return {
            "home_e": rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, n),
            "home_n": rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, n),
            "amp_e": rng.uniform(0.0, WANDER_M, n),
            "amp_n": rng.uniform(0.0, WANDER_M, n),
            "per_e": rng.uniform(180.0, 720.0, n),
            "per_n": rng.uniform(180.0, 720.0, n),
            "ph_e": rng.uniform(0.0, 2 * math.pi, n),
            "ph_n": rng.uniform(0.0, 2 * math.pi, n),
        }

    def positions(
        self, tags: npt.NDArray[np.int64], minutes: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lon, lat) of the tags at the minutes, noise included (seeded by tag and minute)."""
        p = self._params()
        t = minutes.astype(np.float64)
        east = p["home_e"][tags] + p["amp_e"][tags] * np.sin(
            2 * np.pi * t / p["per_e"][tags] + p["ph_e"][tags]
        )
        north = p["home_n"][tags] + p["amp_n"][tags] * np.sin(
            2 * np.pi * t / p["per_n"][tags] + p["ph_n"][tags]
        )
        noise = np.random.default_rng([self.seed, int(minutes.min()) if len(minutes) else 0])
        east += noise.normal(0.0, NOISE_M / 2, len(t))
        north += noise.normal(0.0, NOISE_M / 2, len(t))
        lat = CENTRE[1] + north / M_PER_DEG_LAT
        lon = CENTRE[0] + east / (M_PER_DEG_LAT * math.cos(math.radians(CENTRE[1])))
        return lon, lat

    def chunks(self, batch: int) -> Iterator[FixColumns]:
        """Every fix in time order, `batch` at a time (whole minutes)."""
        per_chunk = max(1, batch // self.tags)
        for first in range(0, self.minutes, per_chunk):
            minutes = np.arange(first, min(first + per_chunk, self.minutes), dtype=np.int64)
            tags = np.tile(np.arange(self.tags, dtype=np.int64), len(minutes))
            at = np.repeat(minutes, self.tags)
            lon, lat = self.positions(tags, at)
            time_ms = int(START.timestamp() * 1000) + at * 60_000
            yield FixColumns(
                device=tags,
                fix_time_ms=time_ms,
                lat=lat,
                lon=lon,
                accuracy_m=np.full(len(at), NOISE_M),
                received_at_ms=time_ms + 2_000,
            )


@dataclass(frozen=True, slots=True)
class Question:
    lon: float
    lat: float
    start: datetime
    end: datetime


def questions(population: Population, count: int, seed: int) -> list[Question]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        tag, minute = rng.randrange(population.tags), rng.randrange(population.minutes)
        lon, lat = population.positions(
            np.array([tag], dtype=np.int64), np.array([minute], dtype=np.int64)
        )
        bearing, distance = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 200.0)
        q_lat = float(lat[0]) + distance * math.cos(bearing) / M_PER_DEG_LAT
        q_lon = float(lon[0]) + distance * math.sin(bearing) / (
            M_PER_DEG_LAT * math.cos(math.radians(q_lat))
        )
        at = START + timedelta(minutes=minute)
        length = timedelta(minutes=rng.uniform(45.0, 75.0))
        start = at - length * rng.random()
        found.append(Question(q_lon, q_lat, start, start + length))
    return found


Opened = SqliteStore | PostgresStore


def register_wearers(store: Opened, population: Population) -> None:
    with store.transaction() as tx:
        for i, device_id in enumerate(population.device_ids()):
            tx.subjects.save_subject(Subject(f"subject-{i:06d}", f"Subject {i}"))
            tx.devices.save_device(Device(device_id))
            tx.assignments.save_assignment(
                Assignment(device_id, f"subject-{i:06d}", START - timedelta(days=1))
            )


def fill(store: Opened, population: Population, batch: int, name: str) -> float:
    """Store every fix; returns the seconds it took."""
    if store.fixes.count_fixes() == population.fixes:
        progress(f"{name}: reusing {population.fixes:,} stored fixes")
        return 0.0
    started = time.perf_counter()
    register_wearers(store, population)
    devices, done = population.device_ids(), 0
    for columns in population.chunks(batch):
        done += store.fixes.import_fix_columns(devices, columns)
        elapsed = time.perf_counter() - started
        progress(f"{name}: {done:,} fixes stored, {done / max(elapsed, 1e-9):,.0f}/s")
    return time.perf_counter() - started


def time_questions(store: Opened, asked: list[Question]) -> tuple[list[float], int]:
    """Milliseconds per question, and the hits of all of them."""
    for q in asked[:WARM_UP]:
        store.fixes.fixes_near(q.lon, q.lat, RADIUS_M, q.start, q.end)
    times, hits = [], 0
    for q in asked[WARM_UP:]:
        started = time.perf_counter()
        found = store.fixes.fixes_near(q.lon, q.lat, RADIUS_M, q.start, q.end)
        times.append((time.perf_counter() - started) * 1000.0)
        hits += len(found)
    return times, hits


def percentiles(times_ms: list[float]) -> dict[str, float]:
    values = np.array(times_ms)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
    }


def postgres_sizes(url: str) -> dict[str, float]:
    """Bytes on disk of the fix partitions (table, indexes) per stored fix."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)),"
            " (SELECT count(*) FROM fixes)"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'fixes'::regclass"
        ).fetchone()
    table, indexes, count = (float(v or 0) for v in (row or (0, 0, 0)))
    per = max(count, 1.0)
    return {"table_bytes_per_fix": table / per, "index_bytes_per_fix": indexes / per}


def trail_benchmark(
    fixes: int,
    days: int,
    seed: int,
    batch: int,
    work_dir: Path,
    postgres: str,
    *,
    keep: bool,
    reuse: bool,
) -> tuple[dict[str, Any], list[str]]:
    minutes = days * 1440
    population = Population(max(1, fixes // minutes), minutes, seed)
    stored = population.fixes
    tag = f"{stored}_{days}_{seed}"
    asked = questions(population, WARM_UP + QUERIES, seed + 1)
    details = [
        f"{stored:,} fixes: {population.tags:,} tags x {minutes:,} minutes; "
        f"{QUERIES} questions of {RADIUS_M:.0f} m and 45-75 min (+{WARM_UP} warm-up)"
    ]
    summary: dict[str, Any] = {"stored_fixes": stored}

    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"trail_{tag}.db"
    if path.exists() and not reuse:
        for leftover in work_dir.glob(f"trail_{tag}.db*"):
            leftover.unlink()
    with SqliteStore(path) as lite:
        took = fill(lite, population, batch, "sqlite")
        times, hits = time_questions(lite, asked)
    summary["sqlite"] = percentiles(times)
    details.append(
        f"sqlite   p50 {summary['sqlite']['p50_ms']:8.2f} ms  p99 "
        f"{summary['sqlite']['p99_ms']:8.2f} ms  ({hits:,} hits; filled in {took:,.0f} s)"
    )
    if not keep:
        for leftover in work_dir.glob(f"trail_{tag}.db*"):
            leftover.unlink()

    name = (
        f"tagwatch_bench_trail_{tag}"
        if (keep or reuse)
        else f"tagwatch_bench_{secrets.token_hex(4)}"
    )
    url = create_database(postgres, name, reuse=reuse)
    try:
        with PostgresStore(url) as pg:
            took = fill(pg, population, batch, "postgres")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE fixes")  # what autovacuum does after a bulk load
            times, hits = time_questions(pg, asked)
        summary["postgres"] = percentiles(times)
        sizes = postgres_sizes(url)
    finally:
        if not keep:
            drop_database(postgres, name)
    details.append(
        f"postgres p50 {summary['postgres']['p50_ms']:8.2f} ms  p99 "
        f"{summary['postgres']['p99_ms']:8.2f} ms  ({hits:,} hits; filled in {took:,.0f} s)"
    )
    details.append(
        f"postgres fix partitions: {sizes['table_bytes_per_fix']:.0f} bytes/fix of table, "
        f"{sizes['index_bytes_per_fix']:.0f} bytes/fix of indexes"
    )
    return summary, details


def trail_command(
    fixes: Annotated[
        int, typer.Option(min=1, help="Fixes to store in each store.")
    ] = DEFAULT_FIXES,
    days: Annotated[int, typer.Option(min=1, help="Days of history they span.")] = 7,
    seed: Annotated[int, typer.Option(help="Seed of the population and the questions.")] = 0,
    batch: Annotated[
        int, typer.Option(min=1000, help="Fixes per bulk-import transaction.")
    ] = 500_000,
    work_dir: Annotated[
        Path, typer.Option(help="Where the SQLite file goes (needs ~4 GB for 20 M fixes).")
    ] = Path("bench-data"),
    postgres: Annotated[
        str, typer.Option(help="PostgreSQL server; a database is created on it.")
    ] = DEFAULT_SERVER,
    keep: Annotated[bool, typer.Option(help="Keep the filled databases.")] = False,
    reuse: Annotated[bool, typer.Option(help="Reuse kept databases of the same size.")] = False,
) -> None:
    """Every subject within 300 m of a point between two times, over N stored fixes."""
    summary, details = trail_benchmark(
        fixes, days, seed, batch, work_dir, postgres, keep=keep, reuse=reuse
    )
    emit(summary, details)
