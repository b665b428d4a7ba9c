"""kill -9 during ingest loses nothing: a real `tagwatch serve` process takes OsmAnd reports
over HTTP from a few threads, is SIGKILLed while requests are in flight, and restarted on
the same database. Every report that was answered 200 must be in the subject's trail
exactly once (reports that got no answer may or may not be there). Twice over."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import pytest

from processkit import free_port, until

T = TypeVar("T")
LON, LAT = -0.336, 51.752
PASSWORD = "an admin password"  # noqa: S105 - a test user's
WAIT_S = 15.0
SENDERS = 3
INGEST_S = 1.5

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.api_port, self.osmand_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.osmand = f"http://127.0.0.1:{self.osmand_port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tagwatch.cli",
                    "serve",
                    "--port",
                    str(self.api_port),
                    "--osmand-port",
                    str(self.osmand_port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self) -> None:
        def healthy() -> bool | None:
            assert self.process.poll() is None, self.log.read_text()
            try:
                answer = httpx.get(f"{self.api}/api/v1/health", timeout=1)
            except httpx.HTTPError:
                return None
            return answer.status_code == 200 or None

        until("the API to answer", healthy)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Senders:
    """A few threads sending one report a request, each with its own fix second."""

    def __init__(self, osmand: str, stamps: itertools.count[int]) -> None:
        self.osmand = osmand
        self.stamps = stamps
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acked: list[int] = []
        self.refused: list[tuple[int, int]] = []
        self.unanswered: list[int] = []
        self.threads = [threading.Thread(target=self._send, daemon=True) for _ in range(SENDERS)]

    def _next(self) -> int:
        with self.lock:
            return next(self.stamps)

    def _send(self) -> None:
        with httpx.Client(base_url=self.osmand, timeout=3) as device:
            while not self.stop.is_set():
                stamp = self._next()
                params: dict[str, str | int | float] = {
                    "id": "tag-1",
                    "timestamp": stamp,
                    "lat": LAT + (stamp % 100) * 1e-5,
                    "lon": LON,
                    "accuracy": 10,
                }
                try:
                    status = device.get("/", params=params).status_code
                except httpx.HTTPError:
                    with self.lock:
                        self.unanswered.append(stamp)
                    return  # the server is gone
                with self.lock:
                    if status == 200:
                        self.acked.append(stamp)
                    else:
                        self.refused.append((stamp, status))

    def __enter__(self) -> Senders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        assert not any(thread.is_alive() for thread in self.threads)


@contextmanager
def _admin(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=10) as api:
        answer = api.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        api.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield api


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


def _stored(server: Server, first: int, last: int) -> Counter[int]:
    """How many times each fix second is in the subject's trail."""
    with _admin(server) as api:
        answer = api.get(
            "/api/v1/subjects/s-1/trail",
            params={
                "start": _iso(first),
                "end": _iso(last),
                "format": "geojson",
                "purpose_code": "audit_review",
                "purpose": "kill -9 test: every acknowledged fix stored once",
            },
        )
    assert answer.status_code == 200, answer.text
    features: list[dict[str, Any]] = answer.json()["features"]
    return Counter(
        int(datetime.fromisoformat(f["properties"]["fix_time"]).timestamp())
        for f in features
        if f["properties"].get("kind") == "fix"
    )


def _drained(server: Server, first: int, last: int, acked: set[int]) -> Counter[int]:
    """The trail once every acknowledged fix is in it and the count has stopped growing."""
    previous: list[int] = []

    def settled() -> Counter[int] | None:
        stored = _stored(server, first, last)
        total = sum(stored.values())
        if not acked <= set(stored) or previous[-1:] != [total]:
            previous.append(total)
            time.sleep(0.2)
            return None
        return stored

    try:
        return until("the monitor to drain the log into the trail", settled)
    except AssertionError:
        stored = _stored(server, first, last)
        missing = sorted(acked - set(stored))
        raise AssertionError(
            f"{len(missing)} acknowledged fixes missing after restart: {missing[:20]}"
        ) from None


def _ingest_and_kill(server: Server, stamps: itertools.count[int]) -> set[int]:
    with Senders(server.osmand, stamps) as senders:
        time.sleep(INGEST_S)
        assert senders.acked, server.log.read_text()
        server.kill()  # kill -9, with requests in flight
    assert not senders.refused, senders.refused[:10]
    assert len(set(senders.acked)) == len(senders.acked)
    return set(senders.acked)


def test_kill_9_during_ingest_loses_no_acknowledged_fix(tmp_path: Path) -> None:
    started = time.monotonic()
    env = {
        **os.environ,
        "TAGWATCH_DB": str(tmp_path / "tagwatch.db"),
        "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
        "TAGWATCH_TELTONIKA_PORT": "0",  # no gateway on the shared default port 5027
        "TAGWATCH_MQTT_URL": "",
        # The senders report far faster than a real tag: no per-device rate limit here.
        "TAGWATCH_DEVICE_RATE_PER_S": "1000000",
        "TAGWATCH_DEVICE_BURST": "1000000",
    }
    env.pop("TAGWATCH_STORE", None)
    env.pop("TAGWATCH_LOG", None)
    command = ["user", "add", "root", "--role", "admin", "--password", PASSWORD]
    added = subprocess.run(
        [sys.executable, "-m", "tagwatch.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert added.returncode == 0, added.stderr

    first = int(time.time()) - 6 * 3600  # one fix a second from here: unique fix times
    stamps = itertools.count(first)
    servers: list[Server] = []
    try:
        server = Server(env, tmp_path / "serve-0.log")
        servers.append(server)
        server.wait_healthy()
        with _admin(server) as api:
            for path, body in [
                ("/api/v1/subjects", {"id": "s-1", "name": "Sam", "risk_level": "high"}),
                ("/api/v1/devices", {"id": "tag-1"}),
                (
                    "/api/v1/assignments",
                    {"device_id": "tag-1", "subject_id": "s-1", "start": _iso(first - 86400)},
                ),
            ]:
                answer = api.post(path, json=body)
                assert answer.status_code in (200, 201), answer.text

        acked: set[int] = set()
        for cycle in (1, 2):
            acked |= _ingest_and_kill(server, stamps)
            server = Server(env, tmp_path / f"serve-{cycle}.log")
            servers.append(server)
            server.wait_healthy()
            last = next(stamps) + 1
            stored = _drained(server, first - 1, last, acked)
            duplicates = {stamp: n for stamp, n in stored.items() if n > 1}
            assert not duplicates, f"cycle {cycle}: fixes stored twice: {duplicates}"
            assert acked <= set(stored), f"cycle {cycle}: lost {sorted(acked - set(stored))}"
            assert set(stored) <= set(range(first, last)), "a fix nobody sent"
    finally:
        for each in servers:
            each.stop()
    assert time.monotonic() - started < 40.0
