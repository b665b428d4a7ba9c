"""What the JSON protocols carried over MQTT share: the decoded message, the rejection, and
the field checks (tagwatch.protocols.owntracks and tagwatch.protocols.tagjson use them).

A payload either decodes to a `DeviceMessage` (which may say it was `skipped`: a message
type that carries nothing for tagwatch, such as an OwnTracks waypoint) or raises
`MessageRejected` with a reason for the gateway's log and metrics. Nothing else escapes a
decoder, whatever the bytes (the hypothesis tests hold them to it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tagwatch.domain.positions import DeviceEvent, Fix

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_DEVICE_ID_LENGTH = 128
MILLISECONDS_FROM = 10**11  # as OsmAnd: an epoch number this large is in milliseconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID_FORBIDDEN = frozenset("/?#+")  # the API's id pattern, and MQTT's topic separators/wildcards


class MessageRejected(ValueError):  # noqa: N818 - a decoder's verdict, as OsmAndError
    """A payload that cannot be decoded; `reason` says why (logged and counted by reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CommandReply:
    """A tag's answer to a command tagwatch sent it (tagjson's reply topic)."""

    device_id: str
    command_id: str
    delivered: bool  # False: the tag says it could not show the message
    text: str = ""


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """One decoded MQTT message of one device.

    `skipped` is set (and everything else empty) for a message that carries nothing for
    tagwatch; `rejected` lists records of a batch that were refused while the good ones
    around them were kept.
    """

    device_id: str
    fixes: tuple[Fix, ...] = ()
    events: tuple[DeviceEvent, ...] = ()
    replies: tuple[CommandReply, ...] = ()
    rejected: tuple[str, ...] = ()
    skipped: str | None = None


def load_object(payload: bytes | str) -> Mapping[str, object]:
    """The payload as a JSON object, or MessageRejected."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageRejected(f"payload over {MAX_PAYLOAD_BYTES} bytes")
    try:
        root = json.loads(payload)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        raise MessageRejected("payload is not JSON") from None
    if not isinstance(root, dict):
        raise MessageRejected("payload is not a JSON object")
    return root


def check_device_id(value: str, what: str = "device id") -> str:
    if not value:
        raise MessageRejected(f"empty {what}")
    if len(value) > MAX_DEVICE_ID_LENGTH:
        raise MessageRejected(f"{what} longer than {MAX_DEVICE_ID_LENGTH} characters")
    if not value.isprintable() or any(c.isspace() or c in _ID_FORBIDDEN for c in value):
        raise MessageRejected(f"{what} has spaces, control characters or one of / ? # +")
    return value


def aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("received_at must be time-zone aware")
    return moment.astimezone(UTC)


def number(obj: Mapping[str, object], name: str) -> float:
    value = obj.get(name)
    if value is None:
        raise MessageRejected(f"no {name}")
    return as_number(name, value)


def optional_number(obj: Mapping[str, object], name: str) -> float | None:
    value = obj.get(name)
    return None if value is None else as_number(name, value)


def as_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MessageRejected(f"{name} is not a number: {shown(value)}")
    try:
        result = float(value)
    except OverflowError:
        raise MessageRejected(f"{name} is not a finite number") from None
    if not math.isfinite(result):
        raise MessageRejected(f"{name} is not a finite number")
    return result


def position(lat: float, lon: float) -> tuple[float, float] | None:
    """Checked (lat, lon); None for 0,0, which receivers send when they have no position."""
    if not -90.0 <= lat <= 90.0:
        raise MessageRejected(f"latitude out of range: {lat}")
    if not -180.0 <= lon <= 180.0:
        raise MessageRejected(f"longitude out of range: {lon}")
    if lat == 0.0 and lon == 0.0:
        return None
    return lat, lon


def epoch_time(name: str, value: float) -> datetime:
    """Seconds since the epoch, or milliseconds from `MILLISECONDS_FROM` on."""
    try:
        if abs(value) >= MILLISECONDS_FROM:
            return _EPOCH + timedelta(milliseconds=value)
        return _EPOCH + timedelta(seconds=value)
    except OverflowError:  # beyond year 9999
        raise MessageRejected(f"{name} out of range: {value}") from None


def instant(obj: Mapping[str, object], name: str) -> datetime | None:
    """An optional instant: epoch seconds (or ms) as a number, or ISO 8601 text (UTC if no
    zone is given)."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MessageRejected(f"{name} is not a time: {shown(value)}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise MessageRejected(f"{name} out of range: {shown(value)}") from None
    return epoch_time(name, as_number(name, value))


def heading(value: float | None) -> float | None:
    return None if value is None or value < 0 else value % 360.0


def percent(name: str, value: float | None) -> float | None:
    """A battery percentage; negative means unknown (as apps send -1)."""
    if value is None or value < 0:
        return None
    if value > 100.0:
        raise MessageRejected(f"{name} over 100 %: {value}")
    return value


def shown(value: object, limit: int = 40) -> str:
    """A value for a reason: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
