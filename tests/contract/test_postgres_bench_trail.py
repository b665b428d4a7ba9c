"""`tagwatch bench trail` with tiny parameters: its summary, its questions, and that both
stores answer them alike (needs PostgreSQL, like the rest of the PostgreSQL tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from contractkit import POSTGRES_SERVER
from typer.testing import CliRunner

from tagwatch.bench.cli import bench_app
from tagwatch.bench.trail import (
    RADIUS_M,
    START,
    Population,
    fill,
    questions,
)
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
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(summary) == ["stored_fixes", "sqlite", "postgres"]
    assert summary["stored_fixes"] == 2 * 1440
    for store in ("sqlite", "postgres"):
        assert set(summary[store]) == {"p50_ms", "p99_ms"}
        assert 0 < summary[store]["p50_ms"] <= summary[store]["p99_ms"]
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
