"""Log payloads: Fix and DeviceEvent to JSON and back, and the records' idempotency keys."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource
from tagwatch.log.codec import (
    PayloadError,
    decode_event,
    decode_fix,
    decode_record,
    dumps,
    encode_event,
    encode_fix,
    event_key,
    event_record,
    fix_key,
    fix_record,
    loads,
)
from tagwatch.log.contract import InboxRecord

T = datetime(2026, 11, 2, 12, 0, 1, 123456, tzinfo=UTC)
FULL = Fix(
    "tag-1",
    T,
    51.752,
    -0.336,
    12.5,
    valid=True,
    received_at=T + timedelta(seconds=3),
    device_time=T + timedelta(seconds=1),
    speed_mps=1.25,
    heading_deg=359.5,
    altitude_m=88.0,
    satellites=9,
    hdop=0.9,
    source=FixSource.CELL,
)


def through_json(payload: dict[str, object]) -> dict[str, object]:
    return loads(dumps(payload))


@pytest.mark.parametrize(
    "fix",
    [FULL, Fix("tag-1", T, 51.0, -1.0, 30.0), Fix("tag-2", T, 0.0, 0.0, 0.0, valid=False)],
    ids=["every-field", "minimal", "invalid"],
)
def test_a_fix_comes_back_equal(fix: Fix) -> None:
    assert decode_fix(through_json(encode_fix(fix))) == fix


@pytest.mark.parametrize(
    "event",
    [
        DeviceEvent("tag-1", T, DeviceEventKind.BATTERY_LEVEL, 42.5, T + timedelta(seconds=2)),
        DeviceEvent("tag-1", T, DeviceEventKind.STRAP_TAMPER),
    ],
    ids=["with-value", "bare"],
)
def test_a_device_event_comes_back_equal(event: DeviceEvent) -> None:
    assert decode_event(through_json(encode_event(event))) == event


def test_instants_are_utc_iso_with_microseconds() -> None:
    local = T.astimezone(timezone(timedelta(hours=1)))
    payload = encode_fix(Fix("tag-1", local, 51.0, -1.0, 5.0))
    assert payload["fix_time"] == "2026-11-02T12:00:01.123456+00:00"
    assert decode_fix(payload).fix_time == T


def test_a_position_without_numbers_is_plain_json() -> None:
    fix = Fix("tag-1", T, math.nan, math.nan, math.inf, valid=False)
    payload = encode_fix(fix)
    assert (payload["lat"], payload["lon"], payload["accuracy_m"]) == (None, None, None)
    json.loads(dumps(payload))  # no NaN tokens
    back = decode_fix(payload)
    assert math.isnan(back.lat) and not back.valid


def test_keys_are_the_stores_idempotency_keys_in_milliseconds() -> None:
    assert fix_key(FULL) == f"fix:tag-1:{int(T.timestamp() * 1000)}"
    same_ms = Fix("tag-1", T.replace(microsecond=123999), 1.0, 1.0, 1.0)
    assert fix_key(same_ms) == fix_key(FULL)
    event = DeviceEvent("tag-1", T, DeviceEventKind.CASE_TAMPER)
    assert event_key(event) == f"event:tag-1:{int(T.timestamp() * 1000)}:case_tamper"


def test_records_carry_their_kind_device_and_payload() -> None:
    record = fix_record(FULL, received_at=T)
    assert (record.key, record.kind, record.device_id) == (fix_key(FULL), "fix", "tag-1")
    own = event_record(
        DeviceEvent("tag-1", T, DeviceEventKind.HEARTBEAT), received_at=T, key="osmand:77"
    )
    assert (own.key, own.kind) == ("osmand:77", "event")
    stored = InboxRecord(1, own.key, own.kind, own.device_id, own.payload, T)
    assert decode_record(stored) == DeviceEvent("tag-1", T, DeviceEventKind.HEARTBEAT)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"device_id": "t", "fix_time": "2026-11-02T12:00:00", "lat": 1, "lon": 1, "accuracy_m": 1},
        {"device_id": "t", "fix_time": 17, "lat": 1, "lon": 1, "accuracy_m": 1},
        {"device_id": "t", "fix_time": T.isoformat(), "lat": "x", "lon": 1, "accuracy_m": 1},
        {"device_id": "t", "fix_time": T.isoformat(), "lat": 91, "lon": 1, "accuracy_m": 1},
    ],
    ids=["empty", "naive-time", "number-time", "text-latitude", "out-of-range"],
)
def test_a_broken_fix_payload_is_a_payload_error(payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        decode_fix(payload)


def test_an_unknown_event_kind_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        decode_event({"device_id": "t", "time": T.isoformat(), "kind": "teleported"})


@pytest.mark.parametrize("text", ["", "[1, 2]", "{not json"])
def test_loads_wants_a_json_object(text: str) -> None:
    with pytest.raises(PayloadError):
        loads(text)
