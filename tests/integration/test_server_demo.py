"""`tagwatch demo`: the real server on a temp database, fed over HTTP by a tiny population."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_demo_stopped_by_a_signal_stops_its_server(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """`kill` (or a closed terminal) on `tagwatch demo` must not leave its server running on
    the demo's ports: the server runs in a session of its own, out of the signal's reach."""
    port = free_port()
    env = {**os.environ, "TAGWATCH_TELTONIKA_PORT": "0", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tagwatch.cli", "demo", "--subjects", "3"]
    command += ["--port", str(port), "--osmand-port", str(free_port())]
    command += ["--db", str(tmp_path / "demo.db"), "--speedup", "600"]
    demo = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    servers: list[int] = []
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl-C stops the demo" in line:
                break
        servers += _children(demo.pid)
        assert servers, "".join(lines)
        demo.send_signal(signum)
        rest, _ = demo.communicate(timeout=60)
        output = "".join(lines) + rest
        assert "server stopped (exit status 0)" in output, output
        assert not any(_alive(pid) for pid in servers), output
        with pytest.raises(OSError):  # the API port is free again
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in servers:  # a failed run must not leave its server behind either
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
