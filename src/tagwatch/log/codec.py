"""JSON forms of Fix and DeviceEvent for log payloads, and the records' idempotency keys.

The JSON is plain (RFC 8259: no NaN), so the same payload can travel through NATS later:
instants are ISO 8601 in UTC with microseconds, non-finite numbers are written as null
(and an invalid fix's missing position reads back as NaN), enums as their values. A
payload decodes back to a record equal to the one encoded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource
from tagwatch.log.contract import EVENT, FIX, InboxRecord, JsonObject, NewRecord


class PayloadError(ValueError):
    """A log payload that does not decode: written by another version, or corrupted."""


def fix_key(fix: Fix) -> str:
    """`fix:<device>:<fix time in ms>`: the store keeps one fix per (device, ms)."""
    return f"{FIX}:{fix.device_id}:{_ms(fix.fix_time)}"


def event_key(event: DeviceEvent) -> str:
    """`event:<device>:<time in ms>:<kind>`: the store keeps one per (device, time, kind)."""
    return f"{EVENT}:{event.device_id}:{_ms(event.time)}:{event.kind.value}"


def fix_record(fix: Fix, *, received_at: datetime, key: str | None = None) -> NewRecord:
    return NewRecord(key or fix_key(fix), FIX, fix.device_id, encode_fix(fix), received_at)


def event_record(event: DeviceEvent, *, received_at: datetime, key: str | None = None) -> NewRecord:
    return NewRecord(
        key or event_key(event), EVENT, event.device_id, encode_event(event), received_at
    )


def decode_record(record: InboxRecord) -> Fix | DeviceEvent:
    """The Fix or DeviceEvent a log record carries; PayloadError if it cannot be read."""
    if record.kind == FIX:
        return decode_fix(record.payload)
    if record.kind == EVENT:
        return decode_event(record.payload)
    raise PayloadError(f"record {record.seq}: unknown kind {record.kind!r}")


# -- fixes -------------------------------------------------------------------------------


def encode_fix(fix: Fix) -> JsonObject:
    return {
        "device_id": fix.device_id,
        "fix_time": _instant(fix.fix_time),
        "lat": _number(fix.lat),
        "lon": _number(fix.lon),
        "accuracy_m": _number(fix.accuracy_m),
        "valid": fix.valid,
        "received_at": _opt_instant(fix.received_at),
        "device_time": _opt_instant(fix.device_time),
        "speed_mps": _number(fix.speed_mps),
        "heading_deg": _number(fix.heading_deg),
        "altitude_m": _number(fix.altitude_m),
        "satellites": fix.satellites,
        "hdop": _number(fix.hdop),
        "source": fix.source.value,
    }


def decode_fix(payload: Mapping[str, Any]) -> Fix:
    try:
        satellites = payload.get("satellites")
        return Fix(
            device_id=str(payload["device_id"]),
            fix_time=_parse(payload["fix_time"]),
            lat=_nan_if_none(payload["lat"]),
            lon=_nan_if_none(payload["lon"]),
            accuracy_m=_nan_if_none(payload["accuracy_m"]),
            valid=bool(payload.get("valid", True)),
            received_at=_opt_parse(payload.get("received_at")),
            device_time=_opt_parse(payload.get("device_time")),
            speed_mps=_opt_float(payload.get("speed_mps")),
            heading_deg=_opt_float(payload.get("heading_deg")),
            altitude_m=_opt_float(payload.get("altitude_m")),
            satellites=None if satellites is None else int(_float(satellites)),
            hdop=_opt_float(payload.get("hdop")),
            source=FixSource(payload.get("source", FixSource.GNSS.value)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"not a fix payload: {error}") from error


# -- device events -----------------------------------------------------------------------


def encode_event(event: DeviceEvent) -> JsonObject:
    return {
        "device_id": event.device_id,
        "time": _instant(event.time),
        "kind": event.kind.value,
        "value": _number(event.value),
        "received_at": _opt_instant(event.received_at),
    }


def decode_event(payload: Mapping[str, Any]) -> DeviceEvent:
    try:
        return DeviceEvent(
            device_id=str(payload["device_id"]),
            time=_parse(payload["time"]),
            kind=DeviceEventKind(payload["kind"]),
            value=_opt_float(payload.get("value")),
            received_at=_opt_parse(payload.get("received_at")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"not a device-event payload: {error}") from error


# -- payload text ------------------------------------------------------------------------


def dumps(payload: JsonObject) -> str:
    """Compact JSON; NaN and infinity are refused (the encoders never produce them)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> JsonObject:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise PayloadError(f"payload is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise PayloadError("payload is not a JSON object")
    return value


# -- helpers -----------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    """Whole milliseconds since 1970, truncated as the store truncates them."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) // 1000


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must be time-zone aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _opt_instant(moment: datetime | None) -> str | None:
    return None if moment is None else _instant(moment)


def _parse(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError(f"an instant must be a string, not {type(text).__name__}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {text!r}")
    return moment.astimezone(UTC)


def _opt_parse(text: object) -> datetime | None:
    return None if text is None else _parse(text)


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _nan_if_none(value: object) -> float:
    return math.nan if value is None else _float(value)


def _opt_float(value: object) -> float | None:
    return None if value is None else _float(value)
