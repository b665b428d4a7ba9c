"""`tagwatch bench ingest` with tiny parameters: a real server process is fed over HTTP, the
summary is the last line of stdout, every counted fix is in the store afterwards and every
breach raised an alert that came over the SSE feed. No timing is asserted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TAGS, PER_TAG, BREACHES, STORED = 4, 60, 4, 20_000
ROUNDS = 3  # PER_TAG / ROUNDS fixes of each tag per round
BREACHER_TAGS = 4  # min(10, BREACHES): one zone each
STEADY_RATE, STEADY_BATCH, BREACH_EVERY = 100, 10, 0.2
KEYS = {"fixes_per_s", "fixes_per_s_full", "stored_fixes_full"}
KEYS |= {"alert_delay_p50_ms", "alert_delay_p99_ms"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    workdir = tmp_path_factory.mktemp("bench-ingest")
    command = [
        sys.executable,
        "-m",
        "tagwatch.cli",
        "bench",
        "ingest",
        f"--fixes={TAGS * PER_TAG}",
        f"--rounds={ROUNDS}",
        "--batch=25",
        f"--tags={TAGS}",
        "--connections=2",
        f"--stored={STORED}",
        f"--rate={STEADY_RATE}",
        f"--steady-batch={STEADY_BATCH}",
        f"--breaches={BREACHES}",
        f"--breach-every={BREACH_EVERY}",
        "--baseline-fixes=2000",
        f"--workdir={workdir}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    return json.loads(last), workdir


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _fixes(path: Path) -> int:
    return _count(path, "SELECT coalesce(sum(row_count), 0) FROM fix_partitions")


def test_the_summary_is_the_last_line_with_the_issues_keys(
    run: tuple[dict[str, object], Path],
) -> None:
    summary, _ = run
    assert summary.keys() >= KEYS
    assert summary["embedded"] == {k: v for k, v in summary.items() if k != "embedded"}
    for key in KEYS - {"stored_fixes_full"}:
        assert isinstance(summary[key], float) and summary[key] > 0, key


def test_every_uploaded_fix_was_committed_by_the_monitor(
    run: tuple[dict[str, object], Path],
) -> None:
    summary, workdir = run
    warm_up = TAGS + BREACHER_TAGS  # one fix per tag before the first round
    assert summary["fixes"] == TAGS * PER_TAG
    # The rounds' fix times do not overlap: a repeated fix would be dropped as a duplicate
    # and the full store below would hold fewer than every uploaded fix.
    assert summary["rounds"] == ROUNDS
    assert len(summary["rounds_fixes_per_s"]) == len(summary["rounds_fixes_per_s_full"]) == ROUNDS
    steady = _count(workdir / "empty.db", "SELECT count(*) FROM inbox WHERE done = 1")
    assert _count(workdir / "empty.db", "SELECT count(*) FROM inbox WHERE done = 0") == 0
    # Throughput fixes, then the steady feed and the breaches, all stored, none left over.
    assert _fixes(workdir / "empty.db") == steady
    assert steady >= warm_up + TAGS * PER_TAG + BREACHES + STEADY_BATCH
    assert summary["stored_fixes_full"] == STORED + warm_up
    assert _fixes(workdir / "full.db") == STORED + warm_up + TAGS * PER_TAG


def test_each_breach_raised_one_alert_that_came_over_the_live_feed(
    run: tuple[dict[str, object], Path],
) -> None:
    summary, workdir = run
    assert (summary["alerts_measured"], summary["alerts_missed"]) == (BREACHES, 0)
    alerts = _count(
        workdir / "empty.db",
        "SELECT count(DISTINCT requirement_id) FROM alerts WHERE rule = 'exclusion'",
    )
    assert alerts == BREACHES
    assert summary["alert_delay_p99_ms"] >= summary["alert_delay_p50_ms"]  # type: ignore[operator]
