"""OwnTracks over MQTT: location messages from the OwnTracks phone apps (iOS and Android).

The apps publish JSON to `owntracks/<user>/<device>` (MQTT mode; see the OwnTracks booklet,
"JSON" and "Topics"): `{"_type": "location", "lat", "lon", "tst", "acc", "alt", "vel",
"cog", "batt", "bs", "created_at", ...}`. Other `_type`s on that topic (`lwt`,
`transition`, `waypoint`, `card`, `status`, ...) carry nothing tagwatch judges and are
skipped with a reason; an `encrypted` payload is rejected (tagwatch holds no key).

**Device identity.** The topic's user and device levels name the phone; its tagwatch
device id is `<user>:<device>` (`device_id_for`), e.g. topic `owntracks/jane/phone` is
device `jane:phone`. A user level containing ':' is refused, so the mapping runs back
exactly (`topic_levels`): commands go to `owntracks/jane/phone/cmd`. Register the phone
under that id, with protocol `owntracks` for wearer notifications to reach it.

Units and decisions (as the OsmAnd decoder's, tagwatch.protocols.osmand):

- `acc` is the app's horizontal accuracy (Android's 68 % radius, iOS's equivalent) and is
  normalised to a 95 % radius by `R95_PER_R68`; absent (the apps omit zeros) it is
  `DEFAULT_ACCURACY_M`. `vel` is km/h; `cog` degrees; `alt` metres.
- `tst` (required) is the fix time in epoch seconds; `created_at` (when the message was
  built) becomes the fix's `device_time`. `batt` is a percentage (negative: unknown);
  `bs` 1 = unplugged, 2 = charging, 3 = full (still plugged in), 0 = unknown.
- 0,0 is no position: the message is a heartbeat (the phone is alive).
- Apps publish with the retain flag by default, so a gateway that (re)subscribes gets the
  last location again: its idempotency key (device, fix time) makes that harmless.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.protocols.mqtt_payloads import (
    DeviceMessage,
    MessageRejected,
    aware_utc,
    check_device_id,
    heading,
    instant,
    load_object,
    number,
    optional_number,
    percent,
    position,
    shown,
)
from tagwatch.protocols.osmand import MAX_ACCURACY_M, normalised_accuracy_m

TOPIC_ROOT = "owntracks"
SUBSCRIPTION = "owntracks/+/+"
KMH_MPS = 1000.0 / 3600.0
_CHARGING = {1: False, 2: True, 3: True}  # bs: unplugged, charging, full (plugged in)


def topic_device(topic: str) -> str:
    """The tagwatch device id of a location topic `owntracks/<user>/<device>`."""
    levels = topic.split("/")
    if len(levels) != 3 or levels[0] != TOPIC_ROOT:
        raise MessageRejected(f"not an OwnTracks location topic: {shown(topic)}")
    return device_id_for(levels[1], levels[2])


def device_id_for(user: str, device: str) -> str:
    check_device_id(user, "OwnTracks user")
    check_device_id(device, "OwnTracks device")
    if ":" in user:
        raise MessageRejected("OwnTracks user has ':' (it separates user and device)")
    return check_device_id(f"{user}:{device}")


def topic_levels(device_id: str) -> tuple[str, str]:
    """(user, device) of an OwnTracks device id; ValueError if it is not one."""
    user, colon, device = device_id.partition(":")
    if not colon or not user or not device:
        raise ValueError(f"{device_id!r} is not an OwnTracks device id (<user>:<device>)")
    return user, device


def command_topic(device_id: str) -> str:
    user, device = topic_levels(device_id)
    return f"{TOPIC_ROOT}/{user}/{device}/cmd"


def command_payload(text: str) -> bytes:
    """An `action` command: iOS shows `notification` at once and `content` in its Featured
    Content tab (Android ignores `action` commands; see docs/devices.md)."""
    message = {"_type": "cmd", "action": "action", "notification": text, "content": text}
    return json.dumps(message, ensure_ascii=False).encode()


def decode(topic: str, payload: bytes | str, received_at: datetime) -> DeviceMessage:
    """Decode one message of `topic`; MessageRejected (with a reason) if it cannot be."""
    received_at = aware_utc(received_at)
    device_id = topic_device(topic)
    root = load_object(payload)
    kind = root.get("_type")
    if not isinstance(kind, str):
        raise MessageRejected("no _type")
    if kind == "encrypted":
        raise MessageRejected("encrypted payload: turn encryption off in the app")
    if kind != "location":
        return DeviceMessage(device_id, skipped=f"_type {shown(kind)} is not a location")
    return _location(device_id, root, received_at)


def _location(device_id: str, root: Mapping[str, object], received_at: datetime) -> DeviceMessage:
    fix_time = instant(root, "tst")
    if fix_time is None:
        raise MessageRejected("no tst")
    device_time = instant(root, "created_at")
    place = position(number(root, "lat"), number(root, "lon"))
    accuracy = optional_number(root, "acc")
    if accuracy is not None and accuracy < 0:
        raise MessageRejected(f"acc is negative: {accuracy}")
    speed_kmh = optional_number(root, "vel")
    battery = percent("batt", optional_number(root, "batt"))
    events: list[DeviceEvent] = []
    fixes: tuple[Fix, ...] = ()
    if place is None:
        events.append(
            DeviceEvent(device_id, fix_time, DeviceEventKind.HEARTBEAT, None, received_at)
        )
    else:
        accuracy_m = normalised_accuracy_m(accuracy, None)
        if not accuracy_m <= MAX_ACCURACY_M:
            raise MessageRejected(f"accuracy out of range: {accuracy_m:.3g} m (95 %)")
        fixes = (
            Fix(
                device_id=device_id,
                fix_time=fix_time,
                lat=place[0],
                lon=place[1],
                accuracy_m=accuracy_m,
                received_at=received_at,
                device_time=device_time,
                speed_mps=None if speed_kmh is None or speed_kmh < 0 else speed_kmh * KMH_MPS,
                heading_deg=heading(optional_number(root, "cog")),
                altitude_m=optional_number(root, "alt"),
            ),
        )
    if battery is not None:
        events.append(
            DeviceEvent(device_id, fix_time, DeviceEventKind.BATTERY_LEVEL, battery, received_at)
        )
    charging = _battery_status(root.get("bs"))
    if charging is not None:
        kind = DeviceEventKind.CHARGING_ON if charging else DeviceEventKind.CHARGING_OFF
        events.append(DeviceEvent(device_id, fix_time, kind, None, received_at))
    return DeviceMessage(device_id, fixes, tuple(events))


def _battery_status(value: object) -> bool | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in _CHARGING:
        raise MessageRejected(f"bs is not 0, 1, 2 or 3: {shown(value)}")
    return _CHARGING[value]
