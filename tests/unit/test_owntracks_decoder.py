"""The OwnTracks decoder: location messages as the apps send them, the topic <-> device id
mapping, skipped and rejected messages, and arbitrary input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import DeviceEventKind
from tagwatch.protocols import owntracks
from tagwatch.protocols.mqtt_payloads import MessageRejected
from tagwatch.protocols.osmand import DEFAULT_ACCURACY_M, R95_PER_R68

RECEIVED = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)
TST = 1_795_860_000  # 2026-11-28 ... UTC
TOPIC = "owntracks/jane/phone"

# What OwnTracks for Android 2.5 publishes (booklet "JSON", _type=location), extended data on.
ANDROID = {
    "_type": "location",
    "acc": 12,
    "alt": 95,
    "batt": 81,
    "bs": 1,
    "conn": "m",
    "created_at": TST + 2,
    "lat": 51.752,
    "lon": -0.336,
    "m": 1,
    "t": "u",
    "tid": "ne",
    "tst": TST,
    "vac": 3,
    "vel": 18,
    "cog": 270,
}


def decode(payload: dict[str, Any] | bytes, topic: str = TOPIC) -> owntracks.DeviceMessage:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return owntracks.decode(topic, raw, RECEIVED)


def test_an_android_location_becomes_a_fix_with_battery_and_charging_events() -> None:
    message = decode(ANDROID)
    assert message.device_id == "jane:phone"
    assert message.skipped is None
    (fix,) = message.fixes
    assert fix.device_id == "jane:phone"
    assert fix.fix_time == datetime.fromtimestamp(TST, UTC)
    assert fix.device_time == datetime.fromtimestamp(TST + 2, UTC)
    assert fix.received_at == RECEIVED
    assert (fix.lat, fix.lon) == (51.752, -0.336)
    assert fix.accuracy_m == pytest.approx(12 * R95_PER_R68)
    assert fix.speed_mps == pytest.approx(5.0)  # 18 km/h
    assert fix.heading_deg == 270
    assert fix.altitude_m == 95
    assert fix.valid
    kinds = [(event.kind, event.value) for event in message.events]
    assert kinds == [(DeviceEventKind.BATTERY_LEVEL, 81), (DeviceEventKind.CHARGING_OFF, None)]
    assert all(event.time == fix.fix_time for event in message.events)


def test_a_minimal_location_has_the_default_accuracy_and_no_events() -> None:
    message = decode({"_type": "location", "lat": 51.5, "lon": -0.1, "tst": TST})
    (fix,) = message.fixes
    assert fix.accuracy_m == DEFAULT_ACCURACY_M
    assert fix.speed_mps is None and fix.heading_deg is None and fix.device_time is None
    assert message.events == ()


@pytest.mark.parametrize(
    ("bs", "kind"),
    [(2, DeviceEventKind.CHARGING_ON), (3, DeviceEventKind.CHARGING_ON), (0, None)],
)
def test_battery_status_maps_to_charging(bs: int, kind: DeviceEventKind | None) -> None:
    message = decode({**ANDROID, "bs": bs, "batt": -1})
    assert [event.kind for event in message.events] == ([kind] if kind else [])


def test_null_island_is_a_heartbeat_not_a_fix() -> None:
    message = decode({"_type": "location", "lat": 0, "lon": 0, "tst": TST})
    assert message.fixes == ()
    assert [event.kind for event in message.events] == [DeviceEventKind.HEARTBEAT]


@pytest.mark.parametrize("kind", ["lwt", "transition", "waypoint", "card", "status", "steps"])
def test_other_types_are_skipped_with_a_reason(kind: str) -> None:
    message = decode({"_type": kind, "tst": TST})
    assert message.skipped is not None and kind in message.skipped
    assert message.fixes == () and message.events == ()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        ({"lat": 1, "lon": 1, "tst": TST}, "no _type"),
        ({"_type": "encrypted", "data": "abc"}, "encryption"),
        ({"_type": "location", "lat": 51.5, "lon": -0.1}, "no tst"),
        ({"_type": "location", "lon": -0.1, "tst": TST}, "no lat"),
        ({"_type": "location", "lat": 91, "lon": -0.1, "tst": TST}, "latitude out of range"),
        ({"_type": "location", "lat": 51, "lon": 181, "tst": TST}, "longitude out of range"),
        ({"_type": "location", "lat": "51", "lon": 0.1, "tst": TST}, "lat is not a number"),
        ({"_type": "location", "lat": True, "lon": 0.1, "tst": TST}, "lat is not a number"),
        ({"_type": "location", "lat": 51, "lon": 0.1, "tst": 1e300}, "tst out of range"),
        ({"_type": "location", "lat": 51, "lon": 0.1, "tst": TST, "acc": -3}, "acc is negative"),
        ({"_type": "location", "lat": 51, "lon": 0.1, "tst": TST, "batt": 140}, "over 100"),
        ({"_type": "location", "lat": 51, "lon": 0.1, "tst": TST, "bs": 7}, "bs is not"),
        ({"_type": "location", "lat": 51, "lon": 0.1, "tst": TST, "acc": 1e9}, "accuracy"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(
    payload: dict[str, Any] | bytes, reason: str
) -> None:
    with pytest.raises(MessageRejected) as refused:
        decode(payload)
    assert reason in refused.value.reason


@pytest.mark.parametrize(
    "topic",
    [
        "owntracks/jane",
        "owntracks/jane/phone/event",
        "other/jane/phone",
        "owntracks//phone",
        "owntracks/ja:ne/phone",
        "owntracks/jane/my phone",
        "owntracks/jane/" + "x" * 200,
    ],
)
def test_topics_that_name_no_device_are_rejected(topic: str) -> None:
    with pytest.raises(MessageRejected):
        decode(ANDROID, topic=topic)


def test_the_device_id_maps_back_to_the_command_topic() -> None:
    assert owntracks.topic_device("owntracks/jane/phone") == "jane:phone"
    assert owntracks.command_topic("jane:phone") == "owntracks/jane/phone/cmd"
    assert owntracks.command_topic("jane:ph:one") == "owntracks/jane/ph:one/cmd"
    with pytest.raises(ValueError, match="not an OwnTracks device id"):
        owntracks.command_topic("tag-1")


def test_the_command_is_an_owntracks_action_with_a_notification() -> None:
    payload = json.loads(owntracks.command_payload("tagwatch: turn back"))
    assert payload == {
        "_type": "cmd",
        "action": "action",
        "notification": "tagwatch: turn back",
        "content": "tagwatch: turn back",
    }


levels = st.text(
    alphabet=st.characters(blacklist_characters="/+#:?", blacklist_categories=("Cs", "Z", "C")),
    min_size=1,
    max_size=30,
)


@given(user=levels, device=levels)
def test_topic_and_device_id_round_trip(user: str, device: str) -> None:
    device_id = owntracks.topic_device(f"owntracks/{user}/{device}")
    assert owntracks.command_topic(device_id) == f"owntracks/{user}/{device}/cmd"


@given(
    lat=st.floats(-90, 90).filter(lambda x: x != 0),
    lon=st.floats(-180, 180),
    tst=st.integers(0, 4_000_000_000),
    acc=st.none() | st.integers(1, 5000),
    vel=st.none() | st.integers(0, 300),
)
def test_any_valid_location_decodes_to_the_fix_it_describes(
    lat: float, lon: float, tst: int, acc: int | None, vel: int | None
) -> None:
    payload: dict[str, Any] = {"_type": "location", "lat": lat, "lon": lon, "tst": tst}
    if acc is not None:
        payload["acc"] = acc
    if vel is not None:
        payload["vel"] = vel
    (fix,) = decode(payload).fixes
    assert (fix.lat, fix.lon) == (lat, lon)
    assert fix.fix_time == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=tst)
    expected = DEFAULT_ACCURACY_M if acc is None else acc * R95_PER_R68
    assert fix.accuracy_m == pytest.approx(expected)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
json_values = (
    scalars
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)
location_like = st.fixed_dictionaries(
    {"_type": st.sampled_from(["location", "lwt", "encrypted"])},
    optional={
        name: json_values
        for name in ("lat", "lon", "tst", "acc", "vel", "cog", "alt", "batt", "bs", "created_at")
    },
)


@given(payload=st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_a_rejection(payload: bytes) -> None:
    with contextlib.suppress(MessageRejected):
        owntracks.decode(TOPIC, payload, RECEIVED)


@given(payload=location_like)
def test_arbitrary_json_only_ever_raises_a_rejection(payload: dict[str, Any]) -> None:
    try:
        message = owntracks.decode(TOPIC, json.dumps(payload).encode(), RECEIVED)
    except MessageRejected:
        return
    for fix in message.fixes:
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180 and fix.accuracy_m > 0


@given(topic=st.text(max_size=60))
def test_arbitrary_topics_only_ever_raise_a_rejection(topic: str) -> None:
    with contextlib.suppress(MessageRejected):
        owntracks.decode(topic, json.dumps(ANDROID).encode(), RECEIVED)
