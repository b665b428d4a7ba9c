"""`tagwatch demo`: the real server on a temp database, fed over HTTP by a tiny population."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from processkit import free_port
from tagwatch.sim.server_demo import run_server_demo


@pytest.mark.slow
def test_the_demo_feeds_the_server_and_stops_it_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGWATCH_TELTONIKA_PORT", "0")  # the shared default port 5027
    lines: list[str] = []
    stop = threading.Event()
    guard = threading.Timer(35.0, stop.set)  # bound everything, whatever happens
    guard.start()
    started = time.monotonic()
    try:
        result = run_server_demo(
            subjects=5,
            days=1,
            seed=3,
            speedup=600.0,
            port=free_port(),
            osmand_port=free_port(),
            db_path=tmp_path / "demo.db",
            duration_s=15.0,
            echo=lines.append,
            stop_event=stop,
        )
    finally:
        guard.cancel()
    output = "\n".join(lines)
    assert time.monotonic() - started < 38.0, output
    assert any("/docs" in line for line in lines), output
    assert "operator /" in output
    assert result.progress is not None, output
    assert result.progress.sent > 50, output
    assert result.progress.failed == 0, output
    assert result.stored_fixes >= result.progress.sent * 0.9, output  # duplicates share a key
    assert result.exit_code == 0, output
    assert "server stopped (exit status 0)" in output
