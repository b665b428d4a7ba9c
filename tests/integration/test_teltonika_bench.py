"""`tagwatch bench gateway` with tiny parameters: it runs end to end against a real server
process and prints its JSON summary last (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_gateway_bench_prints_its_summary_last() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAGWATCH_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tagwatch.cli",
            "bench",
            "gateway",
            "--connections",
            "5",
            "--records-per-packet",
            "3",
            "--interval-s",
            "0.2",
            "--duration-s",
            "1",
            "--warm-up-s",
            "0.2",
            "--baseline-records",
            "200",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["connections"] == 5
    assert summary["failures"] == 0
    assert summary["packets"] > 0
    assert summary["fixes_per_s"] == summary["packets"] * 3 / summary["duration_s"]
    for key in ("ack_p99_ms", "ack_p50_ms", "log_append_grouped_per_s", "offered_fixes_per_s"):
        assert summary[key] > 0, key
    assert summary["offered_fixes_per_s"] == 5 * 3 / 0.2
    capacity = summary["capacity"]  # the second phase offers 1.2 times as much
    assert capacity["offered_fixes_per_s"] == pytest.approx(5 * 3 * 1.2 / 0.2)
    assert capacity["failures"] == 0
    assert capacity["fixes_per_s"] == capacity["packets"] * 3 / summary["duration_s"]
    assert capacity["packets"] > summary["packets"] * 0.8
