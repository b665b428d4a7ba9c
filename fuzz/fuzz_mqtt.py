"""Arbitrary MQTT messages: OwnTracks locations and tagwatch's own tag JSON (`tagjson`).

The input is a topic, a newline, and the payload; the payload is also tried on each kind
of subscribed topic (`owntracks/<user>/<device>`, `tagwatch/tags/<id>/up` and `/reply`),
through the gateway's own dispatch (`tagwatch.gateways.mqtt.decode`). The contract, per
message:

- nothing but `MessageRejected` escapes, and its reason makes a metrics label;
- a decoded message is the topic's device's, and its fixes and events are storable in
  the log (else the broker would redeliver it for ever);
- no poisoning within a tag's batch: a good fix added to a batch that decoded is decoded
  too, and the batch's other records come out as before;
- no poisoning between messages: the good messages still decode as they did.
"""

from __future__ import annotations

import json

import atheris

with atheris.instrument_imports(include=["tagwatch"]):
    from tagwatch.gateways.mqtt import _reason_class, decode
    from tagwatch.protocols.mqtt_payloads import (
        MAX_DEVICE_ID_LENGTH,
        DeviceMessage,
        MessageRejected,
    )
    from tagwatch.protocols.tagjson import MAX_RECORDS

import fuzzkit  # after the decoders: the checks it runs are not traced

RECEIVED_AT = fuzzkit.RECEIVED_AT
OWNTRACKS = "owntracks/jane/phone"
UP = "tagwatch/tags/tag-1/up"
REPLY = "tagwatch/tags/tag-1/reply"
GOOD_FIX = {"time": "2026-11-28T11:59:00Z", "lat": 51.752, "lon": -0.336, "accuracy_m": 12.0}
GOOD = [
    (
        OWNTRACKS,
        {
            "_type": "location",
            "tid": "jp",
            "lat": 51.752,
            "lon": -0.336,
            "tst": 1_764_331_200,
            "acc": 12,
            "alt": 88,
            "vel": 5,
            "cog": 270,
            "batt": 81,
            "bs": 2,
            "created_at": 1_764_331_201,
        },
    ),
    (OWNTRACKS, {"_type": "lwt", "tst": 1_764_331_200}),
    (
        UP,
        {
            "v": 1,
            "sent_at": "2026-11-28T12:00:02Z",
            "fixes": [
                {**GOOD_FIX, "valid": True, "hdop": 0.9, "satellites": 9, "speed_mps": 1.4},
                {"time": 1_764_331_200_000, "lat": 0, "lon": 0, "source": "cell"},
            ],
            "events": [
                {"time": "2026-11-28T11:58:58Z", "kind": "strap_tamper"},
                {"time": "2026-11-28T12:00:00+01:00", "kind": "battery_level", "value": 81},
            ],
        },
    ),
    (REPLY, {"command_id": "c-1", "status": "delivered", "text": "seen"}),
]
GOOD_MESSAGES = [(topic, json.dumps(payload).encode()) for topic, payload in GOOD]


def _decoded(topic: str, payload: bytes) -> DeviceMessage | None:
    try:
        _, message = decode(topic, payload, RECEIVED_AT)
    except MessageRejected as refusal:
        assert isinstance(refusal.reason, str) and _reason_class(refusal.reason)
        return None
    device_id = message.device_id
    assert 0 < len(device_id) <= MAX_DEVICE_ID_LENGTH
    assert device_id == (
        ":".join(topic.split("/")[1:3]) if topic.startswith("owntracks/") else topic.split("/")[2]
    )
    if message.skipped is not None:
        assert not (message.fixes or message.events or message.replies or message.rejected)
    for reason in message.rejected:
        assert _reason_class(reason.partition(": ")[2])
    fuzzkit.assert_storable(device_id, message.fixes, message.events)
    return message


def _batch_keeps_a_good_fix(payload: bytes, message: DeviceMessage) -> None:
    root = json.loads(payload)
    fixes, events = root.get("fixes") or [], root.get("events") or []
    if len(fixes) + len(events) >= MAX_RECORDS:
        return
    try:
        longer = json.dumps({**root, "fixes": [*fixes, GOOD_FIX]}).encode()
        alone = json.dumps({**root, "fixes": [GOOD_FIX], "events": []}).encode()
    except (RecursionError, ValueError):
        return  # nested deeper than json.dumps goes, or a float json.loads made of a NaN
    with_good, good_alone = _decoded(UP, longer), _decoded(UP, alone)
    assert with_good is not None and good_alone is not None, longer
    assert with_good.fixes == (*message.fixes, *good_alone.fixes)
    assert with_good.events == message.events
    assert with_good.rejected == message.rejected


def test_one_input(data: bytes) -> None:
    head, newline, payload = data.partition(b"\n")
    if not newline:
        head, payload = b"", data
    topic = head.decode("utf-8", errors="replace")
    _decoded(topic, payload)
    for known in (OWNTRACKS, UP, REPLY):
        message = _decoded(known, payload)
        if known == UP and message is not None:
            _batch_keeps_a_good_fix(payload, message)
    for topic, good in GOOD_MESSAGES:
        assert _decoded(topic, good) == EXPECTED[topic, good]


EXPECTED = {(topic, good): _decoded(topic, good) for topic, good in GOOD_MESSAGES}


if __name__ == "__main__":
    seeds = [topic.encode() + b"\n" + good for topic, good in GOOD_MESSAGES]
    topics = [b"owntracks/", b"tagwatch/tags/", b"/up", b"/reply", b"/cmd", b"\n", b"+", b"#"]
    tokens = fuzzkit.json_tokens([payload for _, payload in GOOD], ["encrypted", "failed"])
    mutator = fuzzkit.JsonMutator([payload for _, payload in GOOD], after_newline=True)
    fuzzkit.run(test_one_input, seeds, [*tokens, *topics], mutator)
