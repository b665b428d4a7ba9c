"""JSON forms of Fix and DeviceEvent for log payloads, and the records' idempotency keys.

The JSON is plain (RFC 8259: no NaN), so the same payload can travel through NATS:
instants are ISO 8601 in UTC with microseconds, non-finite numbers are written as null
(and an invalid fix's missing position reads back as NaN), enums as their values. A
payload decodes back to a record equal to the one encoded.

Two forms of a fix:

- `encode_fix` / `decode_fix`: an object with named fields (the live feed's `fix`, and
  log records written before the compact form);
- the log record's payload (`fix_record`): `{"fix": [fix_time, lat, lon, accuracy_m,
  valid, received_at, device_time, speed_mps, heading_deg, altitude_m, satellites, hdop,
  source]}`, positions as in `FIX_FIELDS`, instants as integer microseconds since
  1970-01-01 UTC, the device id being the record's own. Every fix is encoded once at
  ingest and decoded once by the monitor, so this is the hot path of the whole pipeline:
  a list encodes and parses in much less time than an object with names, and integers
  convert to and from instants several times faster than ISO text is written.
  `decode_record` reads both forms.

Likewise two forms of a device event: `encode_event` / `decode_event` (named fields, and
log records written before the compact form), and the log record's payload
(`event_record`, `stamped_event_records`): `{"event": [time, kind, value, received_at]}`,
positions as in `EVENT_FIELDS`, instants as integer microseconds. The payload's one key
says which form a record holds ("fix" / "event": compact; anything else: named), so a
reader of either version's log knows what it reads.

`dumps` keeps one C encoder for the process instead of setting one up per call (a third
of its time for a payload this small).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource
from tagwatch.log.contract import EVENT, FIX, InboxRecord, JsonObject, NewRecord


class PayloadError(ValueError):
    """A log payload that does not decode: written by another version, or corrupted."""


FIX_FIELDS = (
    "fix_time",
    "lat",
    "lon",
    "accuracy_m",
    "valid",
    "received_at",
    "device_time",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "satellites",
    "hdop",
    "source",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)
EVENT_FIELDS = ("time", "kind", "value", "received_at")
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_SOURCES = {source.value: source for source in FixSource}
_KINDS = {kind.value: kind for kind in DeviceEventKind}


def fix_key(fix: Fix) -> str:
    """`fix:<device>:<fix time in ms>`: the store keeps one fix per (device, ms)."""
    return f"{FIX}:{fix.device_id}:{_ms(fix.fix_time)}"


def event_key(event: DeviceEvent) -> str:
    """`event:<device>:<time in ms>:<kind>`: the store keeps one per (device, time, kind)."""
    return f"{EVENT}:{event.device_id}:{_ms(event.time)}:{event.kind.value}"


def fix_record(fix: Fix, *, received_at: datetime, key: str | None = None) -> NewRecord:
    """The log record of a fix (its payload keeps the fix's own `received_at`)."""
    received = None if fix.received_at is None else _us(fix.received_at)
    payload = {"fix": _fix_fields(fix, _us(fix.fix_time), received)}
    return NewRecord(key or fix_key(fix), FIX, fix.device_id, payload, received_at)


def stamped_fix_records(fixes: Iterable[Fix], received_at: datetime) -> list[NewRecord]:
    """Log records of fixes received at `received_at`, which a fix without its own
    `received_at` takes (no-comms needs it): the ingest path, one call per request."""
    stamp = _us(received_at)
    records = []
    for fix in fixes:
        us = _us(fix.fix_time)
        received = stamp if fix.received_at is None else _us(fix.received_at)
        records.append(
            NewRecord(
                f"{FIX}:{fix.device_id}:{us // 1000}",  # fix_key, from the microseconds
                FIX,
                fix.device_id,
                {"fix": _fix_fields(fix, us, received)},
                received_at,
                fix if fix.received_at is not None and decodes_to_itself(fix) else None,
            )
        )
    return records


def decodes_to_itself(fix: Fix) -> bool:
    """True if `decode_fix_fields` of this fix's payload gives back the fix unchanged: its
    instants in UTC (the payload keeps microseconds since 1970 and reads them back in UTC),
    its numbers finite (the payload writes others as null) and of their own types. Costs
    about a tenth of decoding; False means only "decode it", never a wrong answer."""
    fix_time, device_time, received_at = fix.fix_time, fix.device_time, fix.received_at
    if fix_time.tzinfo is not UTC or (received_at is not None and received_at.tzinfo is not UTC):
        return False
    if device_time is not None and device_time is not fix_time and device_time.tzinfo is not UTC:
        return False
    if type(fix.valid) is not bool or type(fix.source) is not FixSource:
        return False
    if fix.satellites is not None and type(fix.satellites) is not int:
        return False
    for number in (fix.lat, fix.lon, fix.accuracy_m):
        if type(number) is not float or not math.isfinite(number):
            return False
    for optional in (fix.speed_mps, fix.heading_deg, fix.altitude_m, fix.hdop):
        if optional is not None and (type(optional) is not float or not math.isfinite(optional)):
            return False
    return True


POSITION_FIELDS = (  # a gateway's fix values for `fix_records_of`, in this order
    "lat",
    "lon",
    "accuracy_m",
    "valid",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "satellites",
    "hdop",
)


def fix_records_of(
    device_id: str, fixes: Iterable[tuple[int, Sequence[Any]]], received_at: datetime
) -> list[NewRecord]:
    """Log records of one device's GNSS fixes given as values, received at `received_at`.

    Each fix is (its time in whole milliseconds since 1970, the `POSITION_FIELDS` values),
    from a device with one clock (device time = fix time). The records are the ones
    `stamped_fix_records` makes of the `Fix`es with those fields and `received_at`,
    without making the `Fix`es: a gateway that only writes its fixes to the log (the
    Teltonika one, at tens of thousands a second) saves an object a fix.
    """
    stamp = _us(received_at)
    prefix = f"{FIX}:{device_id}:"
    source = str.__str__(FixSource.GNSS)
    records = []
    for ms, (lat, lon, accuracy, valid, speed, heading, altitude, sats, hdop) in fixes:
        us = ms * 1000
        fields = [
            us,
            _number(lat),
            _number(lon),
            _number(accuracy),
            valid,
            stamp,
            us,  # device time
            None if speed is None else _number(speed),
            None if heading is None else _number(heading),
            None if altitude is None else _number(altitude),
            sats,
            None if hdop is None else _number(hdop),
            source,
        ]
        records.append(NewRecord(prefix + str(ms), FIX, device_id, {"fix": fields}, received_at))
    return records


def event_records_of(
    device_id: str,
    events: Iterable[tuple[int, DeviceEventKind, float | None]],
    received_at: datetime,
) -> list[NewRecord]:
    """Log records of one device's events given as (time in whole ms, kind, value),
    received at `received_at`: what `stamped_event_records` makes of those events."""
    stamp = _us(received_at)
    records = []
    for ms, kind, value in events:
        name = str.__str__(kind)
        fields = [ms * 1000, name, None if value is None else _number(value), stamp]
        key = f"{EVENT}:{device_id}:{ms}:{name}"  # event_key
        records.append(NewRecord(key, EVENT, device_id, {"event": fields}, received_at))
    return records


def event_record(event: DeviceEvent, *, received_at: datetime, key: str | None = None) -> NewRecord:
    """The log record of a device event (its payload keeps the event's own `received_at`)."""
    received = None if event.received_at is None else _us(event.received_at)
    payload = {"event": _event_fields(event, _us(event.time), received)}
    return NewRecord(key or event_key(event), EVENT, event.device_id, payload, received_at)


def stamped_event_records(events: Iterable[DeviceEvent], received_at: datetime) -> list[NewRecord]:
    """Log records of events received at `received_at`, which an event without its own
    `received_at` takes (as `stamped_fix_records` for fixes)."""
    stamp = _us(received_at)
    records = []
    for event in events:
        us = _us(event.time)
        fields = _event_fields(event, us, stamp if event.received_at is None else None)
        records.append(
            NewRecord(
                f"{EVENT}:{event.device_id}:{us // 1000}:{fields[1]}",  # event_key
                EVENT,
                event.device_id,
                {"event": fields},
                received_at,
            )
        )
    return records


def decode_record(record: InboxRecord) -> Fix | DeviceEvent:
    """The Fix or DeviceEvent a log record carries; PayloadError if it cannot be read."""
    if record.kind == FIX:
        fields = record.payload.get("fix")
        if fields is None:
            return decode_fix(record.payload)  # the named form
        return decode_fix_fields(record.device_id, fields)
    if record.kind == EVENT:
        fields = record.payload.get("event")
        if fields is None:
            return decode_event(record.payload)  # the named form
        return decode_event_fields(record.device_id, fields)
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


def _fix_fields(fix: Fix, fix_time_us: int, received_at_us: int | None) -> list[Any]:
    sent, speed, heading = fix.device_time, fix.speed_mps, fix.heading_deg
    altitude, hdop = fix.altitude_m, fix.hdop
    if sent is None:
        sent_us = None
    elif sent is fix.fix_time:  # most protocols have one clock: convert it once
        sent_us = fix_time_us
    else:
        sent_us = _us(sent)
    return [
        fix_time_us,
        _number(fix.lat),
        _number(fix.lon),
        _number(fix.accuracy_m),
        fix.valid,
        received_at_us,
        sent_us,
        None if speed is None else _number(speed),
        None if heading is None else _number(heading),
        None if altitude is None else _number(altitude),
        fix.satellites,
        None if hdop is None else _number(hdop),
        str.__str__(fix.source),  # the value, without the slow enum descriptor
    ]


def decode_fix_fields(device_id: str, fields: object) -> Fix:
    """A Fix from the compact payload's list (`FIX_FIELDS`) and the record's device."""
    if not isinstance(fields, list) or len(fields) != len(FIX_FIELDS):
        raise PayloadError(f"a fix payload has {len(FIX_FIELDS)} fields")
    fix_time, lat, lon, accuracy, valid, received, sent, speed, heading, alt, sats, hdop, source = (
        fields
    )
    try:
        if valid is not True and valid is not False:
            raise TypeError(f"valid must be true or false, not {valid!r}")
        if sats is not None and (type(sats) is not int):
            raise TypeError(f"satellites must be a whole number, not {sats!r}")
        return Fix(
            device_id,
            _from_us(fix_time),
            _nan_if_none(lat),
            _nan_if_none(lon),
            _nan_if_none(accuracy),
            valid,
            None if received is None else _from_us(received),
            None if sent is None else _from_us(sent),
            None if speed is None else _float(speed),
            None if heading is None else _float(heading),
            None if alt is None else _float(alt),
            sats,
            None if hdop is None else _float(hdop),
            _SOURCES[source],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"not a fix payload: {error!r}") from error


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


def _event_fields(event: DeviceEvent, time_us: int, received_at_us: int | None) -> list[Any]:
    """The compact payload's list (`EVENT_FIELDS`); `received_at_us` None: the event's own."""
    if received_at_us is None and event.received_at is not None:
        received_at_us = _us(event.received_at)
    value = event.value
    return [
        time_us,
        str.__str__(event.kind),  # the value, without the slow enum descriptor
        None if value is None else _number(value),
        received_at_us,
    ]


def decode_event_fields(device_id: str, fields: object) -> DeviceEvent:
    """A DeviceEvent from the compact payload's list (`EVENT_FIELDS`) and the record's device."""
    if not isinstance(fields, list) or len(fields) != len(EVENT_FIELDS):
        raise PayloadError(f"an event payload has {len(EVENT_FIELDS)} fields")
    time, kind, value, received = fields
    try:
        return DeviceEvent(
            device_id,
            _from_us(time),
            _KINDS[kind],
            None if value is None else _float(value),
            None if received is None else _from_us(received),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PayloadError(f"not a device-event payload: {error!r}") from error


# -- payload text ------------------------------------------------------------------------


def dumps(payload: JsonObject) -> str:
    """Compact JSON; NaN and infinity are refused (the encoders never produce them)."""
    return "".join(_encode(payload, 0))


def _one_encoder() -> Callable[[object, int], Iterable[str]]:
    """What `JSONEncoder.encode` sets up on every call, set up once (C where there is C).

    No circular-reference markers: payloads are trees the codec builds; a cycle still
    fails (RecursionError) rather than looping."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder, markers and all
        return lambda payload, _level: _ENCODER.iterencode(payload)
    encoder: Callable[[object, int], Iterable[str]] = make(
        None,
        _ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        False,
        False,
        False,  # allow_nan
    )
    return encoder


_encode = _one_encoder()


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
    """Whole milliseconds since 1970, floored as the store floors them."""
    if moment.tzinfo is None:
        raise ValueError("instants must be time-zone aware")
    return (moment - _EPOCH) // _MS


def _us(moment: datetime) -> int:
    """Microseconds since 1970 (exact: integer arithmetic on the timedelta)."""
    if moment.tzinfo is None:
        raise ValueError("instants must be time-zone aware")
    return (moment - _EPOCH) // _US


def _from_us(value: object) -> datetime:
    if type(value) is not int:
        raise TypeError(f"an instant must be whole microseconds, not {value!r}")
    return _EPOCH + timedelta(0, 0, value)  # positional: keywords cost more


def _instant(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError("instants must be time-zone aware")
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def _opt_instant(moment: datetime | None) -> str | None:
    return None if moment is None else _instant(moment)


def _parse(text: object) -> datetime:
    if type(text) is not str:
        raise TypeError(f"an instant must be a string, not {type(text).__name__}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is UTC:  # what the encoders write ("+00:00")
        return moment
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {text!r}")
    return moment.astimezone(UTC)


def _opt_parse(text: object) -> datetime | None:
    return None if text is None else _parse(text)


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _float(value: object) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _nan_if_none(value: object) -> float:
    return math.nan if value is None else _float(value)


def _opt_float(value: object) -> float | None:
    return None if value is None else _float(value)
