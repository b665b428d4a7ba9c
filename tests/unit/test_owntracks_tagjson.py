"""tagwatch's own tag JSON over MQTT: batches, partial rejection, replies, round trips and
arbitrary input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource
from tagwatch.protocols import tagjson
from tagwatch.protocols.mqtt_payloads import MessageRejected
from tagwatch.protocols.osmand import DEFAULT_ACCURACY_M, R95_PER_DRMS, UERE_M

RECEIVED = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)
T = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
UP = "tagwatch/tags/tag-7/up"
REPLY = "tagwatch/tags/tag-7/reply"


def decode(payload: dict[str, Any] | bytes, topic: str = UP) -> tagjson.DeviceMessage:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return tagjson.decode(topic, raw, RECEIVED)


def encode(fixes: list[Fix], events: list[DeviceEvent]) -> dict[str, Any]:
    """What a tag following docs/devices.md would publish for these records."""
    return {
        "v": 1,
        "fixes": [
            {
                "time": fix.fix_time.isoformat(),
                "lat": fix.lat,
                "lon": fix.lon,
                "accuracy_m": fix.accuracy_m,
                "valid": fix.valid,
                "speed_mps": fix.speed_mps,
                "satellites": fix.satellites,
                "source": fix.source.value,
            }
            for fix in fixes
        ],
        "events": [
            {"time": e.time.timestamp(), "kind": e.kind.value, "value": e.value} for e in events
        ],
    }


def test_a_batch_decodes_to_its_fixes_and_events() -> None:
    message = decode(
        {
            "v": 1,
            "device_id": "tag-7",
            "sent_at": "2026-11-28T10:00:03Z",
            "fixes": [
                {"time": "2026-11-28T10:00:00Z", "lat": 51.75, "lon": -0.33, "accuracy_m": 9.5},
                {"time": 1795860060, "lat": 51.76, "lon": -0.34, "hdop": 2.0, "satellites": 7},
                {"time": "2026-11-28T10:02:00", "lat": 51.77, "lon": -0.35},
            ],
            "events": [
                {"time": "2026-11-28T10:00:01Z", "kind": "strap_tamper"},
                {"time": "2026-11-28T10:00:02Z", "kind": "battery_level", "value": 55},
            ],
        }
    )
    assert message.device_id == "tag-7" and message.rejected == ()
    first, second, third = message.fixes
    assert first.accuracy_m == 9.5  # already a 95 % radius: not rescaled
    assert first.device_time == datetime(2026, 11, 28, 10, 0, 3, tzinfo=UTC)
    assert second.accuracy_m == pytest.approx(2.0 * UERE_M * R95_PER_DRMS)
    assert second.satellites == 7 and second.hdop == 2.0
    assert third.fix_time == datetime(2026, 11, 28, 10, 2, tzinfo=UTC)  # no zone: UTC
    assert third.accuracy_m == DEFAULT_ACCURACY_M
    assert [e.kind for e in message.events] == [
        DeviceEventKind.STRAP_TAMPER,
        DeviceEventKind.BATTERY_LEVEL,
    ]
    assert message.events[1].value == 55


def test_bad_records_are_rejected_by_index_and_the_good_ones_kept() -> None:
    message = decode(
        {
            "fixes": [
                {"time": "2026-11-28T10:00:00Z", "lat": 51.75, "lon": -0.33},
                {"time": "2026-11-28T10:01:00Z", "lat": 99, "lon": -0.33},
                {"lat": 51.75, "lon": -0.33},
            ],
            "events": [{"time": 1795860000, "kind": "levitation"}, "nonsense"],
        }
    )
    assert len(message.fixes) == 1
    assert message.events == ()
    assert message.rejected == (
        "fixes[1]: latitude out of range: 99.0",
        "fixes[2]: no time",
        "events[0]: kind is not a tagwatch device event: 'levitation'",
        "events[1]: not an object",
    )


def test_a_fix_at_null_island_is_kept_as_an_invalid_fix() -> None:
    (fix,) = decode({"fixes": [{"time": 1795860000, "lat": 0, "lon": 0}]}).fixes
    assert not fix.valid


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"v": 2, "fixes": []}, "unsupported version"),
        ({"device_id": "tag-8", "events": [{"time": 1, "kind": "heartbeat"}]}, "not the topic"),
        ({"fixes": {}}, "fixes is not an array"),
        ({}, "no fixes and no events"),
        ({"events": [{"time": 1, "kind": "heartbeat"}] * 1001}, "more than 1000"),
    ],
)
def test_whole_messages_are_rejected_with_a_reason(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(MessageRejected) as refused:
        decode(payload)
    assert reason in refused.value.reason


def test_a_reply_names_the_command_it_answers() -> None:
    message = decode({"command_id": "c-1", "status": "delivered", "text": "OK"}, topic=REPLY)
    (reply,) = message.replies
    assert (reply.device_id, reply.command_id, reply.delivered, reply.text) == (
        "tag-7",
        "c-1",
        True,
        "OK",
    )
    with pytest.raises(MessageRejected, match="command_id"):
        decode({"status": "delivered"}, topic=REPLY)


def test_the_command_payload_carries_its_id_and_text() -> None:
    payload = json.loads(tagjson.command_payload("c-1", "turn back", alert_id="a-1"))
    assert payload == {"v": 1, "command_id": "c-1", "type": "text", "text": "turn back"} | {
        "alert_id": "a-1"
    }
    assert tagjson.command_topic("tag-7") == "tagwatch/tags/tag-7/cmd"


@pytest.mark.parametrize(
    "topic", ["tagwatch/tags/tag-7", "tagwatch/tags/tag-7/cmd", "tagwatch/x/tag-7/up", "a/b/c/d"]
)
def test_other_topics_are_rejected(topic: str) -> None:
    with pytest.raises(MessageRejected):
        decode({"events": [{"time": 1, "kind": "heartbeat"}]}, topic=topic)


instants = st.datetimes(  # hypothesis takes naive bounds and adds the zone itself
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
fixes = st.builds(
    Fix,
    device_id=st.just("tag-7"),
    fix_time=instants,
    lat=st.floats(-90, 90).filter(lambda x: x != 0),
    lon=st.floats(-180, 180),
    accuracy_m=st.floats(0, 10_000),
    valid=st.booleans(),
    received_at=st.just(RECEIVED),
    speed_mps=st.none() | st.floats(0, 100),
    satellites=st.none() | st.integers(0, 40),
    source=st.sampled_from(FixSource),
)
events = st.builds(
    DeviceEvent,
    device_id=st.just("tag-7"),
    time=instants,
    kind=st.sampled_from([k for k in DeviceEventKind if k is not DeviceEventKind.BATTERY_LEVEL]),
    value=st.none(),
    received_at=st.just(RECEIVED),
)


@given(fixes=st.lists(fixes, max_size=5), events=st.lists(events, max_size=5))
def test_records_round_trip_through_the_tag_json(
    fixes: list[Fix], events: list[DeviceEvent]
) -> None:
    if not fixes and not events:
        return
    message = decode(encode(fixes, events))
    assert message.rejected == ()
    assert list(message.fixes) == fixes
    for decoded, sent in zip(message.events, events, strict=True):
        assert decoded.kind == sent.kind
        assert abs(decoded.time - sent.time) < timedelta(milliseconds=1)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
json_values = (
    scalars
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)
fix_like = st.dictionaries(
    st.sampled_from(
        ["time", "lat", "lon", "accuracy_m", "hdop", "valid", "satellites", "source", "speed_mps"]
    ),
    json_values,
)
up_like = st.fixed_dictionaries(
    {},
    optional={
        "v": json_values,
        "sent_at": json_values,
        "fixes": st.lists(fix_like, max_size=3) | json_values,
        "events": st.lists(st.dictionaries(st.sampled_from(["time", "kind", "value"]), json_values))
        | json_values,
    },
)


@given(payload=st.binary(max_size=300), reply=st.booleans())
def test_arbitrary_bytes_only_ever_raise_a_rejection(payload: bytes, reply: bool) -> None:
    with contextlib.suppress(MessageRejected):
        tagjson.decode(REPLY if reply else UP, payload, RECEIVED)


@given(payload=up_like)
def test_arbitrary_json_only_ever_raises_a_rejection(payload: dict[str, Any]) -> None:
    try:
        message = tagjson.decode(UP, json.dumps(payload).encode(), RECEIVED)
    except MessageRejected:
        return
    for fix in message.fixes:
        assert fix.device_id == "tag-7" and fix.accuracy_m >= 0
