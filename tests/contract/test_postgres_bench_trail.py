"""`tagwatch bench trail` with tiny parameters: its summary, its questions, and that both
stores answer them alike (needs PostgreSQL, like the rest of the PostgreSQL tests)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from contractkit import POSTGRES_SERVER
from typer.testing import CliRunner

from tagwatch.bench.cli import bench_app
from tagwatch.bench.trail import RADIUS_M, fill, questions
from tagwatch.bench.trail_live import GAP_MINUTES, LiveFeed, ingesting, live_fixes
from tagwatch.bench.trail_population import START, Population
from tagwatch.store import SecretHasher, SqliteStore
from tagwatch.store.postgres import PostgresStore


@pytest.mark.usefixtures("postgres_template")  # skips, or fails with CI=true, without a server
def test_the_bench_prints_both_stores_percentiles_as_its_last_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        bench_app,
        [
            "trail",
            "--fixes",
            "3000",
            "--days",
            "1",
            "--batch",
            "1000",
            "--work-dir",
            str(tmp_path),
            "--postgres",
            POSTGRES_SERVER,
            "--span",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary) == ["stored_fixes", "sqlite", "postgres"]
    assert summary["stored_fixes"] == 2 * 1440
    for store in ("sqlite", "postgres"):
        figures = summary[store]
        assert set(figures) == {
            "p50_ms",
            "p99_ms",
            "at_rest_p50_ms",
            "at_rest_p99_ms",
            "ingest_fixes_per_s",
        }
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert 0 < figures["at_rest_p50_ms"] <= figures["at_rest_p99_ms"]
        assert figures["ingest_fixes_per_s"] > 0  # the live writer did write meanwhile
    assert list(tmp_path.glob("trail_*")) == []  # nothing kept without --keep


def test_each_question_is_near_a_stored_fix_in_a_window_around_it() -> None:
    population = Population(tags=5, minutes=600, seed=3)
    fixes = next(population.chunks(10**6))
    for q in questions(population, 50, seed=4):
        assert timedelta(minutes=45) <= q.end - q.start <= timedelta(minutes=75)
        first_ms = int(START.timestamp() * 1000)
        since_start = fixes.fix_time_ms - first_ms
        window = (since_start >= (q.start - START).total_seconds() * 1000) & (
            since_start <= (q.end - START).total_seconds() * 1000
        )
        north = (fixes.lat[window] - q.lat) * 111_195.0
        east = (fixes.lon[window] - q.lon) * 111_195.0 * np.cos(np.radians(q.lat))
        assert np.min(np.hypot(north, east)) < 260.0  # 200 m away, plus GPS noise


def test_both_stores_answer_the_questions_alike(tmp_path: Path, postgres_url: str) -> None:
    population = Population(tags=40, minutes=300, seed=1)
    asked = questions(population, 15, seed=2)
    with (
        SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest()) as lite,
        PostgresStore(postgres_url, hasher=SecretHasher.cheapest()) as pg,
    ):
        fill(lite, population, 5000, "sqlite")
        fill(pg, population, 5000, "postgres")
        assert lite.fixes.count_fixes() == pg.fixes.count_fixes() == population.fixes
        total = 0
        for q in asked:
            a = lite.fixes.fixes_near(q.lon, q.lat, RADIUS_M, q.start, q.end)
            b = pg.fixes.fixes_near(q.lon, q.lat, RADIUS_M, q.start, q.end)
            assert [(h.fix.device_id, h.fix.fix_time, h.subject_id) for h in a] == [
                (h.fix.device_id, h.fix.fix_time, h.subject_id) for h in b
            ]
            total += len(a)
        assert total > 0


def test_live_fixes_follow_the_history_minute_by_minute() -> None:
    population = Population(tags=3, minutes=100, seed=1)
    fixes = live_fixes(population, 0, 7)
    live_start = population.end + timedelta(minutes=GAP_MINUTES)
    assert [f.device_id for f in fixes] == population.device_ids() * 2 + ["tag-000000"]
    assert [f.fix_time for f in fixes] == [live_start] * 3 + [
        live_start + timedelta(minutes=1)
    ] * 3 + [live_start + timedelta(minutes=2)]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_live_writer_adds_fixes_while_questions_are_asked(
    tmp_path: Path, postgres_url: str, kind: str
) -> None:
    population = Population(tags=20, minutes=60, seed=2)
    url = f"sqlite:///{tmp_path / 'live.db'}" if kind == "sqlite" else postgres_url
    store_cls = SqliteStore if kind == "sqlite" else PostgresStore
    target = tmp_path / "live.db" if kind == "sqlite" else postgres_url
    with store_cls(target, hasher=SecretHasher.cheapest()) as store:  # type: ignore[arg-type]
        fill(store, population, 1000, kind)
        with ingesting(LiveFeed(url, population, rate=400.0)) as live:
            time.sleep(1.5)
        stored = store.fixes.count_fixes()
    assert live.fixes > 0 and live.seconds >= 1.5
    assert stored >= population.fixes + live.fixes  # every write it counted is committed
