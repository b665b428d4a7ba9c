"""A real `tagwatch serve` process on free ports with a temporary database: set up a subject
with an exclusion zone through the API, breach it over OsmAnd HTTP, see exactly one alert
in the API and on the SSE stream, and work it through acknowledge -> resolve. On each
backend: the embedded default, a PostgreSQL store, and PostgreSQL with a NATS log and a
separate monitor process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
import pytest

from processkit import free_port, until
from servicekit import Backend

T = TypeVar("T")
LON, LAT = -0.336, 51.752
PASSWORD = "an admin password"  # noqa: S105 - a test user's
WAIT_S = 20.0

pytestmark = pytest.mark.slow


def _tagwatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tagwatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Server:
    def __init__(self, process: subprocess.Popen[bytes], api: str, osmand: str, log: Path) -> None:
        self.process = process
        self.api = api
        self.osmand = osmand
        self.log = log


@pytest.fixture
def server(tmp_path: Path, service_backend: Backend) -> Iterator[Server]:
    """`tagwatch serve` on each backend (tests/servicekit.py): embedded, postgres and
    distributed (with its `tagwatch monitor` process)."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("TAGWATCH_STORE", "TAGWATCH_LOG")},
        **service_backend.env,
        "TAGWATCH_RULES_CHECK_S": "0.5",
        "TAGWATCH_MONITOR_INTERVAL_S": "0.1",
        "TAGWATCH_TELTONIKA_PORT": "0",  # no gateway on the shared default port 5027
        "TAGWATCH_MQTT_URL": "",
    }
    added = _tagwatch("user", "add", "root", "--role", "admin", "--password", PASSWORD, env=env)
    assert added.returncode == 0, added.stderr
    api_port, osmand_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tagwatch.cli",
                "serve",
                "--port",
                str(api_port),
                "--osmand-port",
                str(osmand_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Server(
        process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{osmand_port}", log
    )
    service_backend.start_monitors(env, tmp_path / "monitor.log")
    try:

        def healthy() -> bool | None:
            assert process.poll() is None, log.read_text()
            try:
                return (
                    httpx.get(f"{running.api}/api/v1/health", timeout=1).status_code == 200 or None
                )
            except httpx.HTTPError:
                return None

        until("the API to answer", healthy)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _read_stream(url: str, token: str, events: queue.Queue[tuple[str, Any]]) -> None:
    """Collect SSE events until the server ends the stream (or the read times out)."""
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=WAIT_S * 2)) as client,
            client.stream("GET", url, params={"access_token": token}) as answer,
        ):
            events.put(("status", answer.status_code))
            name = ""
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.put((name, json.loads(line.removeprefix("data: "))))
    except httpx.HTTPError as error:
        events.put(("error", repr(error)))
    events.put(("end", None))


def _next_alert(events: queue.Queue[tuple[str, Any]], timeout_s: float = WAIT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            name, data = events.get(timeout=left)
        except queue.Empty:
            break
        assert name not in ("error", "end"), data
        if name == "alert":
            alert: dict[str, Any] = data["alert"]
            return alert
    raise AssertionError("no alert on the stream in time")


def test_a_breach_over_osmand_raises_one_alert_seen_in_the_api_and_the_stream(
    server: Server,
) -> None:
    with httpx.Client(base_url=server.api, timeout=10) as api:
        token_answer = api.post(
            "/api/v1/auth/token", data={"username": "root", "password": PASSWORD}
        )
        assert token_answer.status_code == 200, token_answer.text
        token = token_answer.json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"

        def ok(answer: httpx.Response) -> dict[str, Any]:
            assert answer.status_code in (200, 201), answer.text
            body: dict[str, Any] = answer.json()
            return body

        ok(api.post("/api/v1/subjects", json={"id": "s-1", "name": "Sam", "risk_level": "high"}))
        ok(api.post("/api/v1/devices", json={"id": "tag-1"}))
        ok(
            api.post(
                "/api/v1/assignments",
                json={"device_id": "tag-1", "subject_id": "s-1", "start": "2020-01-01T00:00:00Z"},
            )
        )
        zone = {
            "type": "Feature",
            "id": "victim-home",
            "geometry": {"type": "Point", "coordinates": [LON, LAT], "radius_m": 400},
            "properties": {"subject_id": "s-1", "kind": "exclusion", "name": "victim's home"},
        }
        ok(api.post("/api/v1/zones", json=zone))

        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        reader = threading.Thread(
            target=_read_stream, args=(f"{server.api}/api/v1/stream", token, events), daemon=True
        )
        reader.start()
        assert events.get(timeout=WAIT_S) == ("status", 200)
        time.sleep(0.3)  # the stream has subscribed to the bus before its first bytes

        now = int(time.time())
        with httpx.Client(base_url=server.osmand, timeout=10) as device:
            for step in range(3):
                answer = device.get(
                    "/",
                    params={
                        "id": "tag-1",
                        "timestamp": now + step * 5,
                        "lat": LAT + 0.0002 * step,
                        "lon": LON,
                        "accuracy": 5,
                    },
                )
                assert answer.status_code == 200, answer.text
            assert device.get("/", params={"lat": LAT, "lon": LON}).status_code == 400
            assert (
                device.get("/", params={"id": "nobody", "lat": LAT, "lon": LON}).status_code == 403
            )

        def one_alert() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = ok(api.get("/api/v1/alerts"))["items"]
            return items or None

        alerts = until("the alert in the API", one_alert)
        assert len(alerts) == 1
        alert = alerts[0]
        assert (alert["rule"], alert["requirement_id"], alert["subject_id"]) == (
            "exclusion",
            "victim-home",
            "s-1",
        )
        assert (alert["state"], alert["severity"]) == ("new", "critical")

        streamed = _next_alert(events)
        assert streamed["id"] == alert["id"]

        def act(action: str, **extra: str) -> dict[str, Any]:
            body = {"action": action, "note": f"{action} by the e2e test", **extra}
            return ok(api.post(f"/api/v1/alerts/{alert['id']}/actions", json=body))

        assert act("acknowledge")["state"] == "acknowledged"
        resolved = act("resolve", outcome="confirmed_breach")
        assert (resolved["state"], resolved["outcome"]) == ("resolved", "confirmed_breach")
        illegal = api.post(
            f"/api/v1/alerts/{alert['id']}/actions", json={"action": "acknowledge", "note": "x"}
        )
        assert illegal.status_code == 409

        states = []
        while "resolved" not in states:
            states.append(_next_alert(events)["state"])
        assert states[-2:] == ["acknowledged", "resolved"]

        detail = ok(api.get(f"/api/v1/alerts/{alert['id']}"))
        assert [h["action"] for h in detail["history"]] == ["raised", "acknowledge", "resolve"]
        assert len(ok(api.get("/api/v1/alerts"))["items"]) == 1  # still exactly one

        metrics = api.get("/metrics").text
        assert 'tagwatch_alerts{state="resolved"} 1' in metrics

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(15) == 0, server.log.read_text()
    assert until("the stream to end", lambda: _drained_to_end(events), 10)


def _drained_to_end(events: queue.Queue[tuple[str, Any]]) -> bool | None:
    try:
        while True:
            name, _ = events.get_nowait()
            if name == "end":
                return True
    except queue.Empty:
        return None
