"""NATS for the tests: the machine's JetStream server, or a private one a test can stop.

Tests that need NATS fail (not skip) when CI=true and it is not there: CI runs against the
services the machine starts, and a silent skip would hide a broken setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from processkit import free_port

NATS_URL = os.environ.get("TAGWATCH_TEST_NATS", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def _reachable(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=1.0):
            return True
    except OSError:
        return False


def require_nats(url: str = NATS_URL) -> str:
    if not _reachable(url):
        message = f"NATS JetStream is not reachable at {url} (make test starts it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


def new_namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def drop_namespace(url: str, namespace: str) -> None:
    """Delete a test's stream and lease bucket so runs do not pile up on the server."""

    async def drop() -> None:
        client = await nats.connect(url, connect_timeout=3)
        try:
            js = client.jetstream()
            with contextlib.suppress(Exception):
                await js.delete_stream(f"TAGWATCH_IN_{namespace.upper()}")
            with contextlib.suppress(Exception):
                await js.delete_key_value(f"tagwatch_monitor_leases_{namespace}")
        finally:
            await client.close()

    def run() -> None:
        with contextlib.suppress(Exception):
            asyncio.run(drop())

    # In a thread of its own: the caller's thread may have an event loop running already
    # (Playwright's sync API keeps one in the main thread while a browser is open).
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)


class PrivateNats:
    """A nats-server of the test's own (JetStream on a temporary directory) to stop at will."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not Path(NATS_SERVER).exists():
            message = "nats-server is not installed"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        self._process = subprocess.Popen(
            [
                NATS_SERVER,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _reachable(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError("the private nats-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None


@contextlib.contextmanager
def private_nats(directory: Path) -> Iterator[PrivateNats]:
    server = PrivateNats(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
