"""Small helpers for tests that drive real processes: a free port, and waiting for a
condition with a deadline (the failure says what was awaited)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def until(what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """Call `probe` every 0.1 s until it returns something other than None; return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
