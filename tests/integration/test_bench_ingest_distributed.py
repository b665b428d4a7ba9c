"""`tagwatch bench ingest --store postgresql://... --log nats://...` with tiny parameters: the
scale-out configuration (PostgreSQL, NATS with 8 partitions, 2 `tagwatch monitor`
processes) measured beside the embedded default in one run. Every counted fix is in the
PostgreSQL database afterwards and every breach raised one alert that came over the SSE
feed, relayed from a monitor process to the API process. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from natskit import require_nats

pytestmark = pytest.mark.slow

POSTGRES = os.environ.get("TAGWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TAGS, PER_TAG, BREACHES, STORED = 4, 60, 4, 20_000
BREACHER_TAGS = 4  # min(10, BREACHES): one zone each
KEYS = {"fixes_per_s", "fixes_per_s_full", "stored_fixes_full"}
KEYS |= {"alert_delay_p50_ms", "alert_delay_p99_ms"}


def _require_postgres() -> None:
    try:
        with psycopg.connect(POSTGRES, connect_timeout=3):
            return
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable at {POSTGRES}: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    _require_postgres()
    nats_url = require_nats()
    command = [
        sys.executable,
        "-m",
        "tagwatch.cli",
        "bench",
        "ingest",
        f"--fixes={TAGS * PER_TAG}",
        "--batch=25",
        f"--tags={TAGS}",
        "--connections=2",
        f"--stored={STORED}",
        "--rate=100",
        "--steady-batch=10",
        f"--breaches={BREACHES}",
        "--breach-every=0.2",
        "--baseline-fixes=2000",
        f"--workdir={tmp_path_factory.mktemp('bench-ingest-distributed')}",
        f"--store={POSTGRES}",
        f"--log={nats_url}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _scalar(database: str, query: str) -> int:
    url = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_both_configurations_are_in_the_summary_with_the_issues_keys(
    summary: dict[str, object],
) -> None:
    assert summary.keys() >= KEYS | {"embedded", "distributed"}
    distributed = summary["distributed"]
    assert isinstance(distributed, dict)
    assert distributed.keys() >= KEYS
    assert (distributed["partitions"], distributed["monitors"]) == (8, 2)
    for key in KEYS - {"stored_fixes_full"}:
        assert isinstance(distributed[key], float) and distributed[key] > 0, key


def test_the_monitor_processes_committed_every_fix_to_postgresql(
    summary: dict[str, object],
) -> None:
    distributed = summary["distributed"]
    assert isinstance(distributed, dict)
    warm_up = TAGS + BREACHER_TAGS  # one fix per tag before the first round
    empty = _scalar("tagwatch_bench_ingest_empty", "SELECT count(*) FROM fixes")
    assert empty >= warm_up + TAGS * PER_TAG + BREACHES
    full = _scalar("tagwatch_bench_ingest_full", "SELECT count(*) FROM fixes")
    assert full == STORED + warm_up + TAGS * PER_TAG
    assert distributed["stored_fixes_full"] == STORED + warm_up


def test_each_breach_raised_one_alert_relayed_to_the_live_feed(
    summary: dict[str, object],
) -> None:
    distributed = summary["distributed"]
    assert isinstance(distributed, dict)
    assert (distributed["alerts_measured"], distributed["alerts_missed"]) == (BREACHES, 0)
    alerts = _scalar(
        "tagwatch_bench_ingest_empty",
        "SELECT count(DISTINCT requirement_id) FROM alerts WHERE rule = 'exclusion'",
    )
    assert alerts == BREACHES
