"""The live SSE feed, the health check and the Prometheus metrics."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from apikit import add_tagged_subject
from fastapi.testclient import TestClient


def _feed_then_close(stack: Any, messages: list[dict[str, Any]]) -> threading.Thread:
    """Publish once the stream has subscribed, then shut the stream down (TestClient reads
    a streamed body to its end)."""

    def run() -> None:
        deadline = time.monotonic() + 10
        while stack.services.bus.subscriber_count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for message in messages:
            stack.services.bus.publish(message)
        time.sleep(0.2)
        stack.context.closing.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_the_stream_sends_bus_messages_as_named_events(
    api: TestClient, stack: Any, viewer: dict[str, str]
) -> None:
    alert = {"type": "alert", "alert": {"id": "a-1", "state": "new"}}
    position = {"type": "position", "device_id": "tag-1", "subject_id": "s-1", "fix": {}}
    thread = _feed_then_close(stack, [alert, position])
    token = viewer["Authorization"].removeprefix("Bearer ")
    answer = api.get("/api/v1/stream", params={"access_token": token})
    thread.join(5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.startswith("retry: 3000\n")
    assert _events(answer.text) == [("alert", alert), ("position", position)]
    assert stack.services.bus.subscriber_count == 0


def test_the_stream_takes_a_bearer_header_too(
    api: TestClient, stack: Any, viewer: dict[str, str]
) -> None:
    thread = _feed_then_close(stack, [{"type": "gap", "dropped": 3}])
    answer = api.get("/api/v1/stream", headers=viewer)
    thread.join(5)
    assert _events(answer.text) == [("gap", {"type": "gap", "dropped": 3})]


def test_the_stream_needs_a_login(api: TestClient) -> None:
    assert api.get("/api/v1/stream").status_code == 401
    assert api.get("/api/v1/stream", params={"access_token": "forged.token"}).status_code == 401


def test_health_needs_no_login(api: TestClient, stack: Any) -> None:
    answer = api.get("/api/v1/health")
    assert answer.status_code == 200
    version = stack.services.store.schema_version()
    assert version >= 1
    assert answer.json() == {"status": "ok", "schema_version": version}


def test_metrics_are_prometheus_text(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    assert osmand.get("/?id=tag-1&lat=51.75&lon=-0.33").status_code == 200
    assert osmand.get("/?id=stranger&lat=51.75&lon=-0.33").status_code == 403
    assert osmand.get("/?lat=51.75&lon=-0.33").status_code == 400
    answer = api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['tagwatch_records_ingested_total{protocol="osmand"}'] == 1
    assert samples['tagwatch_ingest_refused_total{reason="unknown device"}'] == 1
    assert samples["tagwatch_inbox_pending"] == 1
    assert samples["tagwatch_unknown_devices"] == 1
    assert samples['tagwatch_alerts{state="new"}'] == 0
    assert (
        samples[
            'tagwatch_http_requests_total{app="osmand",method="GET",route="/{path:path}",status="400"}'
        ]
        == 1
    )
    assert (
        samples[
            'tagwatch_http_requests_total{app="api",method="POST",route="/subjects",status="201"}'
        ]
        == 1
    )
    assert "# TYPE tagwatch_http_requests_total counter" in answer.text
