"""The native batch upload: device credentials, late and duplicate records, counts."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from apikit import T0, add_tagged_subject
from fastapi.testclient import TestClient

SECRET = "tag one secret"  # noqa: S105 - a test device's


@pytest.fixture
def device(api: TestClient, admin: dict[str, str]) -> str:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    api.put("/api/v1/devices/tag-1/secret", json={"secret": SECRET}, headers=admin)
    return "tag-1"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _batch(minutes: range) -> dict[str, Any]:
    return {
        "fixes": [
            {
                "fix_time": (T0 - timedelta(hours=3, minutes=m)).isoformat(),
                "lat": 51.75,
                "lon": -0.33,
                "accuracy_m": 12.0,
                "satellites": 7,
            }
            for m in minutes
        ],
        "events": [
            {"time": (T0 - timedelta(hours=3)).isoformat(), "kind": "battery_level", "value": 40}
        ],
    }


def test_a_buffered_upload_is_accepted_once_even_if_sent_twice(
    api: TestClient, device: str, stack: Any
) -> None:
    answer = api.post("/api/v1/ingest/batch", json=_batch(range(5)), headers=_basic(device, SECRET))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"device_id": "tag-1", "fixes": 5, "events": 1, "accepted": 6}
    bearer = {"Authorization": f"Bearer {device}:{SECRET}"}
    again = api.post("/api/v1/ingest/batch", json=_batch(range(3, 8)), headers=bearer)
    assert again.json()["accepted"] == 3  # minutes 5, 6, 7 are new
    stack.services.monitor.run_once()
    assert stack.services.store.fixes.count_fixes(device_id="tag-1") == 8


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer tag-1"},
        {"Authorization": f"Bearer tag-2:{SECRET}"},
        {"Authorization": "Digest x"},
        _basic("tag-1", "wrong"),
    ],
)
def test_a_batch_without_the_right_device_credentials_is_401(
    api: TestClient, device: str, credentials: dict[str, str], stack: Any
) -> None:
    answer = api.post("/api/v1/ingest/batch", json=_batch(range(1)), headers=credentials)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert stack.services.log.count_pending() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"fixes": [{"fix_time": "2026-11-05T17:00:00", "lat": 51, "lon": 0, "accuracy_m": 5}]},
        {"fixes": [{"fix_time": "2026-11-05T17:00:00Z", "lat": 91, "lon": 0, "accuracy_m": 5}]},
        {"fixes": [{"fix_time": "2026-11-05T17:00:00Z", "lat": 51, "lon": 0}]},
        {"events": [{"time": "2026-11-05T17:00:00Z", "kind": "exploded"}]},
        {"fixes": "all of them"},
        {"device_id": "tag-2"},
    ],
)
def test_a_malformed_batch_is_422(
    api: TestClient, device: str, body: dict[str, Any], stack: Any
) -> None:
    answer = api.post("/api/v1/ingest/batch", json=body, headers=_basic(device, SECRET))
    assert answer.status_code == 422
    assert stack.services.log.count_pending() == 0


def test_an_oversized_request_is_413(api: TestClient, device: str) -> None:
    headers = {**_basic(device, SECRET), "content-type": "application/json"}
    body = b'{"fixes": [' + b" " * (17 * 1024 * 1024) + b"]}"
    assert api.post("/api/v1/ingest/batch", content=body, headers=headers).status_code == 413


def test_a_malformed_batch_says_what_and_where(api: TestClient, device: str) -> None:
    """The body is validated from its JSON bytes; the 422 is FastAPI's usual one."""
    bad = {"fixes": [{"fix_time": "2026-11-05T17:00:00Z", "lat": 91, "lon": 0, "accuracy_m": 5}]}
    answer = api.post("/api/v1/ingest/batch", json=bad, headers=_basic(device, SECRET))
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "fixes", 0, "lat"]
    assert "90" in problem["msg"]
    headers = {**_basic(device, SECRET), "content-type": "application/json"}
    broken = api.post("/api/v1/ingest/batch", content=b'{"fixes": [', headers=headers)
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"


def test_the_batch_body_is_documented(api: TestClient) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    body = spec["paths"]["/api/v1/ingest/batch"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    fix = schema["properties"]["fixes"]["items"]
    assert set(fix["required"]) == {"fix_time", "lat", "lon", "accuracy_m"}
    assert "$ref" not in str(schema)  # self-contained: no pointers into missing $defs
    assert "BatchAccepted" in str(spec["paths"]["/api/v1/ingest/batch"]["post"]["responses"])
