"""tagwatch's own JSON for tags over MQTT (protocol name `mqtt`), version 1.

Topics (`<id>` is the tagwatch device id; the broker's ACL should let a tag publish and
subscribe only under its own id, e.g. Mosquitto `pattern readwrite tagwatch/tags/%u/#`):

- `tagwatch/tags/<id>/up`: the tag's records, one message a batch (a tag out of coverage
  buffers and sends many at once):

      {"v": 1,
       "sent_at": "2026-11-28T10:15:02Z",
       "fixes": [{"time": "2026-11-28T10:15:00Z", "lat": 51.752, "lon": -0.336,
                  "accuracy_m": 12.0, "valid": true, "hdop": 0.9, "satellites": 9,
                  "speed_mps": 1.4, "heading_deg": 270, "altitude_m": 80,
                  "source": "gnss"}],
       "events": [{"time": "2026-11-28T10:14:58Z", "kind": "strap_tamper"},
                  {"time": "2026-11-28T10:15:00Z", "kind": "battery_level", "value": 81}]}

  Instants are ISO 8601 (UTC when no zone is given) or epoch seconds (milliseconds from
  10^11). `lat`, `lon`, `time` are required in a fix; everything else is optional.
  `accuracy_m` is ALREADY the 95 % radius, tagwatch's own convention (no rescaling);
  without it `hdop` gives one (as OsmAnd's) and without either `DEFAULT_ACCURACY_M`.
  `valid: false` marks a position the receiver does not vouch for (no satellites).
  Event kinds are tagwatch's `DeviceEventKind` values. `sent_at` becomes each fix's
  `device_time`. An optional `device_id` must equal the topic's.
- `tagwatch/tags/<id>/reply`: the tag's answer to a command,
  `{"command_id": "...", "status": "delivered" | "failed", "text": "..."}`.
- `tagwatch/tags/<id>/cmd` (tagwatch publishes, QoS 1): a command for the tag,
  `{"v": 1, "command_id": "...", "type": "text", "text": "...", "alert_id": "..."}`; the
  tag shows the text to the wearer and replies.

A batch keeps its good records: a bad fix or event is listed in `rejected` with its
index and reason, the others are decoded. A message that is not a version-1 object, or
has more than `MAX_RECORDS` records, is rejected whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource
from tagwatch.protocols.mqtt_payloads import (
    CommandReply,
    DeviceMessage,
    MessageRejected,
    aware_utc,
    check_device_id,
    heading,
    instant,
    load_object,
    number,
    optional_number,
    position,
    shown,
)
from tagwatch.protocols.osmand import DEFAULT_ACCURACY_M, MAX_ACCURACY_M, R95_PER_DRMS, UERE_M

VERSION = 1
TOPIC_ROOT = "tagwatch/tags"
UP, REPLY, CMD = "up", "reply", "cmd"
SUBSCRIPTIONS = (f"{TOPIC_ROOT}/+/{UP}", f"{TOPIC_ROOT}/+/{REPLY}")
MAX_RECORDS = 1000
MAX_TEXT = 1000
_KINDS = {kind.value: kind for kind in DeviceEventKind}
_SOURCES = {source.value: source for source in FixSource}
_FIX_FIELDS = ("speed_mps", "heading_deg", "altitude_m", "hdop")


def topic_parts(topic: str) -> tuple[str, str]:
    """(device id, `up` or `reply`) of a tag topic."""
    levels = topic.split("/")
    if len(levels) != 4 or "/".join(levels[:2]) != TOPIC_ROOT or levels[3] not in (UP, REPLY):
        raise MessageRejected(f"not a tagwatch tag topic: {shown(topic)}")
    return check_device_id(levels[2]), levels[3]


def command_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{CMD}"


def command_payload(command_id: str, text: str, *, alert_id: str | None = None) -> bytes:
    message: dict[str, object] = {"v": VERSION, "command_id": command_id, "type": "text"}
    message["text"] = text
    if alert_id is not None:
        message["alert_id"] = alert_id
    return json.dumps(message, ensure_ascii=False).encode()


def decode(topic: str, payload: bytes | str, received_at: datetime) -> DeviceMessage:
    """Decode one message of an `up` or `reply` topic; MessageRejected if it cannot be."""
    received_at = aware_utc(received_at)
    device_id, kind = topic_parts(topic)
    root = load_object(payload)
    if kind == REPLY:
        return DeviceMessage(device_id, replies=(_reply(device_id, root),))
    version = root.get("v", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise MessageRejected(f"unsupported version {shown(version)} (expected {VERSION})")
    named = root.get("device_id")
    if named is not None and named != device_id:
        raise MessageRejected("device_id in the payload is not the topic's")
    sent_at = instant(root, "sent_at")
    fix_items = _array(root, "fixes")
    event_items = _array(root, "events")
    if len(fix_items) + len(event_items) > MAX_RECORDS:
        raise MessageRejected(f"more than {MAX_RECORDS} records in one message")
    if not fix_items and not event_items:
        raise MessageRejected("no fixes and no events")
    rejected: list[str] = []
    fixes: list[Fix] = []
    events: list[DeviceEvent] = []
    for index, item in enumerate(fix_items):
        try:
            fixes.append(_fix(device_id, item, sent_at, received_at))
        except MessageRejected as refusal:
            rejected.append(f"fixes[{index}]: {refusal.reason}")
    for index, item in enumerate(event_items):
        try:
            events.append(_event(device_id, item, received_at))
        except MessageRejected as refusal:
            rejected.append(f"events[{index}]: {refusal.reason}")
    return DeviceMessage(device_id, tuple(fixes), tuple(events), rejected=tuple(rejected))


def _array(root: Mapping[str, object], name: str) -> list[object]:
    value = root.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MessageRejected(f"{name} is not an array")
    return value


def _fix(device_id: str, item: object, sent_at: datetime | None, received_at: datetime) -> Fix:
    if not isinstance(item, dict):
        raise MessageRejected("not an object")
    fix_time = instant(item, "time")
    if fix_time is None:
        raise MessageRejected("no time")
    place = position(number(item, "lat"), number(item, "lon"))
    valid = item.get("valid", True)
    if not isinstance(valid, bool):
        raise MessageRejected("valid is not true or false")
    if place is None:  # 0,0: the receiver had no position; the record still proves contact
        place, valid = (0.0, 0.0), False
    values = {name: optional_number(item, name) for name in _FIX_FIELDS}
    for name in ("speed_mps", "hdop"):
        value = values[name]
        if value is not None and value < 0:
            raise MessageRejected(f"{name} is negative: {value}")
    satellites = optional_number(item, "satellites")
    if satellites is not None and (satellites < 0 or not satellites.is_integer()):
        raise MessageRejected(f"satellites is not a whole number >= 0: {satellites}")
    source = item.get("source", FixSource.GNSS.value)
    if not isinstance(source, str) or source not in _SOURCES:
        raise MessageRejected(f"source is not one of {sorted(_SOURCES)}")
    return Fix(
        device_id=device_id,
        fix_time=fix_time,
        lat=place[0],
        lon=place[1],
        accuracy_m=_accuracy_m(optional_number(item, "accuracy_m"), values["hdop"]),
        valid=valid,
        received_at=received_at,
        device_time=sent_at,
        speed_mps=values["speed_mps"],
        heading_deg=heading(values["heading_deg"]),
        altitude_m=values["altitude_m"],
        satellites=None if satellites is None else int(satellites),
        hdop=values["hdop"] or None,
        source=_SOURCES[source],
    )


def _accuracy_m(accuracy_m: float | None, hdop: float | None) -> float:
    """The 95 % radius as sent, else from HDOP, else the default."""
    if accuracy_m is not None:
        if not 0.0 <= accuracy_m <= MAX_ACCURACY_M:
            raise MessageRejected(f"accuracy_m out of range: {accuracy_m}")
        return accuracy_m
    if hdop is not None and hdop > 0:
        return min(hdop * UERE_M * R95_PER_DRMS, MAX_ACCURACY_M)
    return DEFAULT_ACCURACY_M


def _event(device_id: str, item: object, received_at: datetime) -> DeviceEvent:
    if not isinstance(item, dict):
        raise MessageRejected("not an object")
    time = instant(item, "time")
    if time is None:
        raise MessageRejected("no time")
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise MessageRejected(f"kind is not a tagwatch device event: {shown(kind)}")
    value = optional_number(item, "value")
    if _KINDS[kind] is DeviceEventKind.BATTERY_LEVEL and not (
        value is not None and 0.0 <= value <= 100.0
    ):
        raise MessageRejected("battery_level needs a value from 0 to 100 (percent)")
    return DeviceEvent(device_id, time, _KINDS[kind], value, received_at)


def _reply(device_id: str, root: Mapping[str, object]) -> CommandReply:
    command_id = root.get("command_id")
    if not isinstance(command_id, str) or not command_id or len(command_id) > 64:
        raise MessageRejected("no command_id (a string of at most 64 characters)")
    status = root.get("status", "delivered")
    if status not in ("delivered", "failed"):
        raise MessageRejected(f"status is not 'delivered' or 'failed': {shown(status)}")
    text = root.get("text", "")
    if not isinstance(text, str):
        raise MessageRejected("text is not a string")
    return CommandReply(device_id, command_id, status == "delivered", text[:MAX_TEXT])
