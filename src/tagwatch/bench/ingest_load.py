"""The client side of `tagwatch bench ingest`: a real server process, uploads, the SSE feed.

Request bodies are built and JSON-encoded before a run's clock starts, so the client's own
cost while timed is sending bytes and reading short answers (stdlib http.client over
keep-alive connections, one per thread). The server is `python -m tagwatch.cli serve`, as
an operator starts it, configured by environment variables only.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BATCH_PATH = "/api/v1/ingest/batch"
STREAM_PATH = "/api/v1/stream"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a URL
HEALTH_PATH = "/api/v1/health"
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 120.0


class LoadError(RuntimeError):
    """The server or the client did not do what a run needs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Upload:
    """One prepared request: a device's batch, JSON-encoded."""

    device_id: str
    body: bytes
    fixes: int
    label: str = ""  # what the upload is for (a breach's zone id)


def fix_json(fix_time: str, lon: float, lat: float, accuracy_m: float) -> dict[str, Any]:
    return {
        "fix_time": fix_time,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "accuracy_m": round(accuracy_m, 1),
        "speed_mps": 0.4,
        "satellites": 9,
    }


def batch_body(fixes: Sequence[Mapping[str, Any]]) -> bytes:
    return json.dumps({"fixes": fixes}, separators=(",", ":")).encode()


def device_headers(device_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{device_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


class Server:
    """A `tagwatch serve` child process on free ports; `stop()` ends it with SIGTERM."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        # Only the API is used: the device-protocol listeners other than OsmAnd stay off, so
        # their default ports cannot clash with another server on this machine.
        quiet = {"TAGWATCH_TELTONIKA_PORT": "0", "TAGWATCH_MQTT_URL": ""}
        environment = {**os.environ, **quiet, **env}
        command = [
            sys.executable,
            "-m",
            "tagwatch.cli",
            "serve",
            "--port",
            str(self.port),
            "--osmand-port",
            str(free_port()),
            "--log-level",
            "warning",
        ]
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env=environment, stdout=out, stderr=subprocess.STDOUT
            )

        self.monitors: list[MonitorProcess] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process and its monitor processes have used,
        where /proc tells it."""
        times = [process_cpu_seconds(self.pid)]
        times += [process_cpu_seconds(monitor.process.pid) for monitor in self.monitors]
        return None if None in times else sum(t for t in times if t is not None)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"the server exited: {self.log_tail()}")
            try:
                status, _ = self.request("GET", HEALTH_PATH)
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                return
            time.sleep(0.1)
        raise LoadError(f"the server did not answer within {START_TIMEOUT_S} s")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> tuple[int, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def token(self, username: str, password: str) -> str:
        form = urlencode({"username": username, "password": password}).encode()
        status, body = self.request(
            "POST", TOKEN_PATH, form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if status != 200:
            raise LoadError(f"sign-in refused ({status}): {body[:200]!r}")
        return str(json.loads(body)["access_token"])

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used, where /proc tells it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MonitorProcess:
    """A `tagwatch monitor --partitions ...` child process of a scale-out configuration."""

    def __init__(self, env: Mapping[str, str], partitions: str, log_path: Path) -> None:
        self.log_path = log_path
        command = [sys.executable, "-m", "tagwatch.cli", "monitor", "--partitions", partitions]
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
            )

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise LoadError("a monitor process exited: " + "\n".join(tail))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass(slots=True)
class UploadResult:
    requests: int = 0
    fixes: int = 0
    accepted: int = 0  # records the log took as new
    failures: list[str] = field(default_factory=list)
    sent: list[tuple[str, float]] = field(default_factory=list)  # label, monotonic send time


class Uploader:
    """Threads with one keep-alive connection each, sending prepared uploads as fast as the
    server answers (or on a schedule: `send_at`)."""

    def __init__(self, server: Server, secret: str, connections: int) -> None:
        self._server = server
        self._secret = secret
        self._connections = connections

    def send_all(self, uploads: Iterable[Upload]) -> UploadResult:
        work: queue.SimpleQueue[Upload | None] = queue.SimpleQueue()
        for upload in uploads:
            work.put(upload)
        for _ in range(self._connections):
            work.put(None)
        results = [UploadResult() for _ in range(self._connections)]
        threads = [
            threading.Thread(target=self._drain, args=(work, result), daemon=True)
            for result in results
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return _merge(results)

    def send_paced(self, schedule: Sequence[tuple[float, Upload]]) -> UploadResult:
        """Each upload at its monotonic time (or as soon after as a connection is free)."""
        work: queue.SimpleQueue[tuple[float, Upload] | None] = queue.SimpleQueue()
        for item in schedule:
            work.put(item)
        for _ in range(self._connections):
            work.put(None)
        results = [UploadResult() for _ in range(self._connections)]

        def run(result: UploadResult) -> None:
            conn = self._server.connection()
            try:
                while (item := work.get()) is not None:
                    at, upload = item
                    wait = at - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    self._send(conn, upload, result)
            finally:
                conn.close()

        threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in results]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return _merge(results)

    def send_one(self, upload: Upload) -> UploadResult:
        result = UploadResult()
        conn = self._server.connection()
        try:
            self._send(conn, upload, result)
        finally:
            conn.close()
        return result

    def _drain(self, work: queue.SimpleQueue[Upload | None], result: UploadResult) -> None:
        conn = self._server.connection()
        try:
            while (upload := work.get()) is not None:
                self._send(conn, upload, result)
        finally:
            conn.close()

    def _send(self, conn: http.client.HTTPConnection, upload: Upload, result: UploadResult) -> None:
        headers = device_headers(upload.device_id, self._secret)
        result.requests += 1
        result.sent.append((upload.label, time.monotonic()))
        try:
            conn.request("POST", BATCH_PATH, body=upload.body, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()  # reconnects on the next request
            result.failures.append(f"{upload.device_id}: {error!r}")
            return
        if answer.status != 200:
            result.failures.append(f"{upload.device_id}: {answer.status} {body[:200]!r}")
            return
        result.fixes += upload.fixes
        result.accepted += int(json.loads(body)["accepted"])


def _merge(results: Iterable[UploadResult]) -> UploadResult:
    total = UploadResult()
    for result in results:
        total.requests += result.requests
        total.fixes += result.fixes
        total.accepted += result.accepted
        total.failures += result.failures
        total.sent += result.sent
    return total


class AlertFeed:
    """Reads the SSE stream in a thread; remembers when each zone's first alert arrived."""

    def __init__(self, server: Server, token: str) -> None:
        self._conn = server.connection()
        self._token = token
        self._lock = threading.Lock()
        self._arrived: dict[str, float] = {}
        self._opened = threading.Event()
        self.events = 0
        self.gaps = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="sse", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._opened.wait(START_TIMEOUT_S):
            raise LoadError(f"the SSE stream did not open: {self.error!r}")

    def arrived(self) -> dict[str, float]:
        with self._lock:
            return dict(self._arrived)

    def wait_for(self, zone_ids: Iterable[str], timeout_s: float) -> dict[str, float]:
        wanted = set(zone_ids)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = self.arrived()
            if wanted <= seen.keys() or self.error is not None:
                break
            time.sleep(0.05)
        return {zone: at for zone, at in self.arrived().items() if zone in wanted}

    def close(self) -> None:
        """End the stream: the reader sees end-of-file and stops."""
        if self._conn.sock is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5.0)
        self._conn.close()

    def _read(self) -> None:
        try:
            self._conn.request(
                "GET",
                f"{STREAM_PATH}?{urlencode({'access_token': self._token})}",
                headers={"Accept": "text/event-stream"},
            )
            answer = self._conn.getresponse()
            if answer.status != 200:
                raise LoadError(f"the SSE stream answered {answer.status}")
            self._opened.set()
            event = ""
            while True:
                line = answer.readline()
                if not line:
                    return
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    event = text.removeprefix("event: ")
                elif text.startswith("data: "):
                    self._on_event(event, text.removeprefix("data: "))
                elif not text:
                    event = ""
        except (OSError, http.client.HTTPException, LoadError, ValueError) as error:
            self.error = error
            self._opened.set()

    def _on_event(self, event: str, data: str) -> None:
        arrived = time.monotonic()
        self.events += 1
        if event == "gap":
            self.gaps += 1
        if event != "alert":
            return
        zone_id = str(json.loads(data)["alert"]["requirement_id"])
        with self._lock:
            self._arrived.setdefault(zone_id, arrived)
