"""The OsmAnd listener as Traccar Client talks to it: query, form and JSON; 200 only once
the log has the report; 400 with the reason for what cannot be decoded; 403 for unknown
devices; device keys when set or required."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from apikit import T0, Stack, add_tagged_subject, created, make_stack, need_frames, sign_in
from fastapi.testclient import TestClient

from tagwatch.log.codec import decode_record
from tagwatch.protocols.osmand import KNOT_MPS
from tagwatch.store.records import UserRole


def _frames() -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = json.loads(need_frames().read_text())["osmand_http"]
    return frames


def _logged(stack: Stack) -> list[Any]:
    """What the log holds, decoded: the records the device was told were stored."""
    return [decode_record(record) for record in stack.services.log.pending(1000)]


def _all_latest(stack: Stack) -> list[Any]:
    return list(stack.services.store.fixes.latest_fixes().values())


@pytest.fixture
def registered(api: TestClient, admin: dict[str, str]) -> None:
    for device_id in ("123456789012345", "902064"):
        created(api.post("/api/v1/devices", json={"id": device_id}, headers=admin))


def test_the_conformance_requests_are_answered_and_stored_as_listed(
    osmand: TestClient, stack: Stack, registered: None
) -> None:
    frames = _frames()
    assert len(frames) >= 3
    for frame in frames:
        answer = osmand.get(frame["request"])
        if "decoded" not in frame:
            assert answer.status_code == 400, frame
            assert answer.text == "no device id"
            continue
        assert answer.status_code == 200, (frame, answer.text)
        assert answer.content == b""
    stack.services.monitor.run_once()
    stored = {fix.device_id: fix for fix in _all_latest(stack)}
    for frame in frames:
        if "decoded" not in frame:
            continue
        expected = frame["decoded"]
        device_id = frame["request"].split("id=")[1].split("&")[0]
        fix = stored[device_id]
        assert fix.fix_time == datetime.fromisoformat(expected["fix_time"])
        assert fix.lat == pytest.approx(expected["lat"], abs=1e-9)
        assert fix.lon == pytest.approx(expected["lon"], abs=1e-9)
        assert fix.speed_mps == pytest.approx(expected["speed_knots"] * KNOT_MPS)
        if "heading" in expected:
            assert fix.heading_deg == pytest.approx(expected["heading"])
        if "hdop" in expected:
            assert fix.hdop == expected["hdop"]
        if "altitude_m" in expected:
            assert fix.altitude_m == expected["altitude_m"]


def test_a_form_post_and_a_json_post_are_accepted(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    form = "id=tag-1&timestamp=1793995200&lat=51.75&lon=-0.33&accuracy=10&batt=55"
    answer = osmand.post(
        "/", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200, answer.text
    body = {
        "device_id": "tag-1",
        "location": {
            "timestamp": "2026-11-05T20:01:00.000Z",
            "coords": {"latitude": 51.751, "longitude": -0.331, "accuracy": 10, "speed": 1.2},
            "battery": {"level": 0.54, "is_charging": False},
        },
    }
    answer = osmand.post("/", json=body)
    assert answer.status_code == 200, answer.text
    fixes = [r for r in _logged(stack) if hasattr(r, "lat")]
    assert [(f.lat, f.lon) for f in fixes] == [(51.75, -0.33), (51.751, -0.331)]
    assert fixes[0].accuracy_m == pytest.approx(10 * 1.6214, abs=1e-3)
    assert fixes[0].received_at == T0
    kinds = sorted(r.kind.value for r in _logged(stack) if hasattr(r, "kind"))
    assert kinds == ["battery_level", "battery_level", "charging_off"]


def test_query_and_form_parameters_are_merged(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    answer = osmand.post(
        "/?id=tag-1",
        content="lat=51.75&lon=-0.33",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert len([r for r in _logged(stack) if hasattr(r, "lat")]) == 1


@pytest.mark.parametrize(
    ("request_target", "body", "reason"),
    [
        ("/?lat=51&lon=0", None, "no device id"),
        ("/?id=tag-1&lat=91&lon=0", None, "latitude out of range"),
        ("/?id=tag-1&lat=abc&lon=0", None, "latitude is not a number"),
        ("/?id=tag-1&lat=51", None, "latitude without longitude"),
        ("/?id=tag-1&lat=51&lon=0&timestamp=yesterday", None, "timestamp is not a time"),
        ("/?id=tag-1&lat=51&lon=0&batt=140", None, "battery level out of range"),
        ("/", b"{not json", "body is not JSON"),
        ("/", b'{"device_id": "tag-1", "location": []}', "batched locations"),
        ("/", b'{"device_id": "tag-1", "location": {"coords": {"latitude": "x"}}}', "latitude"),
        ("/", b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_malformed_request_is_400_with_the_reason(
    api: TestClient,
    osmand: TestClient,
    admin: dict[str, str],
    stack: Stack,
    request_target: str,
    body: bytes | None,
    reason: str,
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    if body is None:
        answer = osmand.get(request_target)
    else:
        answer = osmand.post(request_target, content=body)
    assert answer.status_code == 400
    assert reason in answer.text
    assert _logged(stack) == []


def test_a_huge_body_is_413(osmand: TestClient) -> None:
    answer = osmand.post("/", content=b"id=x&" + b"a" * 70_000)
    assert answer.status_code == 413


def test_an_unknown_device_is_403_and_listed(
    osmand: TestClient, api: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    answer = osmand.get("/?id=stranger&lat=51.75&lon=-0.33")
    assert (answer.status_code, answer.text) == (403, "unknown device")
    assert _logged(stack) == []
    listed = api.get("/api/v1/unknown-devices", headers=admin).json()
    assert [d["device_id"] for d in listed] == ["stranger"]


def test_a_heartbeat_without_position_is_accepted(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    assert osmand.get("/?id=tag-1").status_code == 200
    assert [r.kind.value for r in _logged(stack)] == ["heartbeat"]


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_device_with_a_secret_must_send_it(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    secret = "device secret 123"  # noqa: S105 - a test device's
    api.put("/api/v1/devices/tag-1/secret", json={"secret": secret}, headers=admin)
    report = "/?id=tag-1&lat=51.75&lon=-0.33"
    missing = osmand.get(report)
    assert (missing.status_code, missing.text) == (401, "this device has a key and must send it")
    assert osmand.get(report + "&key=wrong").status_code == 401
    assert osmand.get(report, headers=_basic("tag-1", "wrong")).status_code == 401
    assert osmand.get(report, headers=_basic("other", secret)).status_code == 401
    assert osmand.get(report + "&key=device%20secret%20123").status_code == 200
    assert (
        osmand.get(report + "&timestamp=1793995300", headers=_basic("tag-1", secret)).status_code
        == 200
    )
    form = osmand.post(
        "/",
        content=f"id=tag-1&lat=51.75&lon=-0.33&timestamp=1793995400&key={secret}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200
    assert len(_logged(stack)) == 3
    api.delete("/api/v1/devices/tag-1/secret", headers=admin)
    assert osmand.get(report + "&timestamp=1793995500").status_code == 200


@pytest.mark.parametrize(
    "credentials", [b"Basic !!!", b"Basic " + base64.b64encode(b"\xff:x"), b"Basic ab\xf6c"]
)
def test_malformed_basic_credentials_are_401_not_a_server_error(
    api: TestClient, osmand: TestClient, admin: dict[str, str], credentials: bytes
) -> None:
    # The last (a byte past ASCII, which HTTP lets through) was a 500 and a traceback until
    # fuzz/fuzz_osmand.py found it.
    add_tagged_subject(api, admin, "s-1", "tag-1")
    answer = osmand.get("/?id=tag-1&lat=51.75&lon=-0.33", headers={"Authorization": credentials})
    assert (answer.status_code, answer.text) == (401, "malformed basic credentials")


@pytest.fixture
def strict_stack(tmp_path: Path) -> Iterator[Stack]:
    yield from make_stack(tmp_path, osmand_require_key=True)


def test_with_keys_required_a_device_without_a_secret_is_refused(strict_stack: Stack) -> None:
    admin = sign_in(strict_stack.api, strict_stack.services, UserRole.ADMIN)
    add_tagged_subject(strict_stack.api, admin, "s-1", "tag-1")
    answer = strict_stack.osmand.get("/?id=tag-1&lat=51.75&lon=-0.33")
    assert (answer.status_code, answer.text) == (401, "a device key is required")
    strict_stack.api.put("/api/v1/devices/tag-1/secret", json={"secret": "s" * 16}, headers=admin)
    answer = strict_stack.osmand.get("/?id=tag-1&lat=51.75&lon=-0.33&key=" + "s" * 16)
    assert answer.status_code == 200


def test_a_retried_report_is_stored_once(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Stack
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    report = "/?id=tag-1&timestamp=1793995200&lat=51.75&lon=-0.33"
    assert osmand.get(report).status_code == 200
    assert osmand.get(report).status_code == 200
    assert len(_logged(stack)) == 1
    stack.services.monitor.run_once()
    assert stack.services.store.fixes.count_fixes(device_id="tag-1") == 1
    assert not math.isnan(_all_latest(stack)[0].accuracy_m)
