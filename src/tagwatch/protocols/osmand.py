"""The OsmAnd protocol: what Traccar Client and other OsmAnd-speaking apps send to port 5055.

Two shapes arrive over HTTP:

- **Query / form** (`decode_query`): GET or POST with the parameters in the query string or
  in an `application/x-www-form-urlencoded` body: `id` or `deviceid`, `timestamp`, `lat` and
  `lon` (or `location=lat,lon`), `speed` in knots, `bearing` or `heading`, `altitude`,
  `accuracy`, `hdop`, `batt` (percent), `charge`, `valid`, `sat` or `satellites`. Unknown
  parameters are ignored, and so are empty values (as Traccar does).
- **JSON** (`decode_json`): the body Traccar Client 9+ POSTs as `application/json`,
  `{"device_id": ..., "location": {"timestamp", "coords": {...}, "battery": {...}, ...}}`.
  Here `coords.speed` is in m/s and -1 means unknown (as do negative `heading`/`accuracy`).

Decisions that are tagwatch's own, not the protocol's:

- **Accuracy is normalised to a 95 % radius.** Apps report Android's `Location.getAccuracy()`
  (documented as the radius of 68 % confidence) or iOS's `horizontalAccuracy` (the same
  convention in practice). For a circular 2-D normal error of per-axis deviation sigma the
  radius holding probability p is sigma * sqrt(-2 ln(1 - p)): 1.5096 sigma at 68 %, 2.4477 sigma
  at 95 %. So r95 = r68 * 1.6214 (`R95_PER_R68`), not r68 * 2.45: that factor would treat the
  68 % radius as sigma itself and inflate every fix by half again. Accuracy 0 (Android's "no
  accuracy") or negative (iOS's "invalid") counts as not given.
- Without accuracy, HDOP gives an estimate: the RMS horizontal error (DRMS) is HDOP x UERE,
  with a user range error of 5 m (`UERE_M`, on the cautious side for a phone or tag
  receiver), and for the same 2-D normal r95 = DRMS * sqrt(-ln 0.05) = 1.7308 DRMS; so about
  8.7 m per unit of HDOP. With neither, `DEFAULT_ACCURACY_M` (50 m): wide enough that a fix
  of unknown quality is uncertain near every boundary rather than decisive. A 95 % radius
  over `MAX_ACCURACY_M` (1000 km) is refused as garbage.
- `timestamp` digits are seconds below 10^11 (year 5138) and milliseconds from there (10^11
  ms is March 1973); Traccar's 2^31 threshold would misread seconds after 2038. ISO-8601
  without a zone, and "yyyy-MM-dd HH:mm:ss", are UTC. A '+' of a zone offset that form
  decoding turned into a space is put back. Without a timestamp the fix time is
  `received_at` and `device_time` is left empty.
- A report without a position (no lat/lon, or exactly 0,0, which receivers send when they
  have no fix and which Traccar also treats as no position) is a heartbeat: `fix` is None
  and the events hold a HEARTBEAT. `valid=false` with coordinates gives an invalid fix.
- A JSON location marked `"mock": true` came from a location-spoofing app, not a receiver:
  its fix is decoded as invalid, so it proves contact but never compliance (and silence of
  valid fixes raises no-GPS as it should).
- Battery percent outside 0-100 and JSON battery level outside 0-1 are refused (except the
  -1 that means unknown in JSON). Heading is reduced to [0, 360); negative speed or heading
  means unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix

PORT = 5055
KNOT_MPS = 1852.0 / 3600.0
R95_PER_R68 = math.sqrt(math.log(0.05) / math.log(0.32))  # 1.6214
R95_PER_DRMS = math.sqrt(-math.log(0.05))  # 1.7308
UERE_M = 5.0
DEFAULT_ACCURACY_M = 50.0
MILLISECONDS_FROM = 10**11  # a numeric timestamp this large or larger is in milliseconds
MAX_DEVICE_ID_LENGTH = 128
MAX_ACCURACY_M = 1_000_000.0  # a wider circle says nothing about where the device is

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+\.\d*|\.\d+)", re.ASCII)
_OFFSET_LOST_PLUS = re.compile(r"(?<=\d) (\d{2}(?::?\d{2})?)$")  # "...:47 01:00" -> "+01:00"
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


class OsmAndError(ValueError):
    """A request that cannot be decoded; `reason` says why, for the device log and a 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OsmAndReport:
    """One decoded request: the fix (None for a heartbeat) and the device events with it."""

    device_id: str
    fix: Fix | None
    events: tuple[DeviceEvent, ...]


def normalised_accuracy_m(accuracy: float | None, hdop: float | None) -> float:
    """The 95 % radius from a reported 68 % radius, else from HDOP, else the default."""
    if accuracy is not None and accuracy > 0:
        return accuracy * R95_PER_R68
    if hdop is not None and hdop > 0:
        return hdop * UERE_M * R95_PER_DRMS
    return DEFAULT_ACCURACY_M


@dataclass(slots=True)
class _Reading:
    """What one request said, in tagwatch units, before it becomes records."""

    device_id: str
    received_at: datetime
    fix_time: datetime | None = None
    position: tuple[float, float] | None = None
    valid: bool = True
    accuracy: float | None = None  # as reported: a 68 % radius
    hdop: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    satellites: int | None = None
    battery_pct: float | None = None
    charging: bool | None = None

    def report(self) -> OsmAndReport:
        time = self.received_at if self.fix_time is None else self.fix_time
        fix = None
        if self.position is not None:
            lat, lon = self.position
            accuracy_m = normalised_accuracy_m(self.accuracy, self.hdop)
            if not accuracy_m <= MAX_ACCURACY_M:
                raise OsmAndError(f"accuracy out of range: {accuracy_m:.3g} m (95 %)")
            fix = Fix(
                device_id=self.device_id,
                fix_time=time,
                lat=lat,
                lon=lon,
                accuracy_m=accuracy_m,
                valid=self.valid,
                received_at=self.received_at,
                speed_mps=self.speed_mps,
                heading_deg=self.heading_deg,
                altitude_m=self.altitude_m,
                satellites=self.satellites,
                hdop=self.hdop if self.hdop is not None and self.hdop > 0 else None,
            )
        kinds: list[tuple[DeviceEventKind, float | None]] = []
        if fix is None:
            kinds.append((DeviceEventKind.HEARTBEAT, None))
        if self.battery_pct is not None:
            kinds.append((DeviceEventKind.BATTERY_LEVEL, self.battery_pct))
        if self.charging is not None:
            charging = (
                DeviceEventKind.CHARGING_ON if self.charging else DeviceEventKind.CHARGING_OFF
            )
            kinds.append((charging, None))
        events = tuple(
            DeviceEvent(self.device_id, time, kind, value, self.received_at)
            for kind, value in kinds
        )
        return OsmAndReport(self.device_id, fix, events)


# --- the query-string / form variant ---


def decode_query(params: Mapping[str, str] | str, received_at: datetime) -> OsmAndReport:
    """Decode query parameters or a form body.

    `params` is a mapping of already-decoded parameters (one value each), or the raw query
    string or form body; a raw request target ("/?id=...") is accepted too.
    """
    received_at = _aware_utc(received_at)
    fields = _fields(params)
    reading = _Reading(_device_id(fields.get("id") or fields.get("deviceid")), received_at)
    if "timestamp" in fields:
        reading.fix_time = _parse_time(fields["timestamp"])
    reading.position = _query_position(fields)
    if "valid" in fields:
        reading.valid = _flag("valid", fields["valid"])
    reading.accuracy = _optional(fields, "accuracy")
    reading.hdop = _not_negative("hdop", _optional(fields, "hdop"))
    speed_knots = _optional(fields, "speed")
    if speed_knots is not None and speed_knots >= 0:
        reading.speed_mps = speed_knots * KNOT_MPS
    reading.heading_deg = _heading(_optional(fields, "bearing", "heading"))
    reading.altitude_m = _optional(fields, "altitude")
    satellites = _not_negative("satellites", _optional(fields, "sat", "satellites"))
    if satellites is not None:
        if not satellites.is_integer():
            raise OsmAndError(f"satellites is not a whole number: {satellites}")
        reading.satellites = int(satellites)
    reading.battery_pct = _percent(_optional(fields, "batt"))
    if "charge" in fields:
        reading.charging = _flag("charge", fields["charge"])
    return reading.report()


def _fields(params: Mapping[str, str] | str) -> dict[str, str]:
    if isinstance(params, str):
        text = params.strip()
        if text.startswith(("/", "?", "http://", "https://")):  # a request target
            text = text.partition("?")[2].partition("#")[0]
        # The last of repeated parameters wins, as in Traccar.
        return {key: values[-1] for key, values in parse_qs(text).items()}
    return {key: value for key, value in params.items() if value != ""}


def _query_position(fields: Mapping[str, str]) -> tuple[float, float] | None:
    if "location" in fields:
        parts = fields["location"].split(",")
        if len(parts) != 2:
            raise OsmAndError("location is not 'lat,lon'")
        lat, lon = _number("latitude", parts[0]), _number("longitude", parts[1])
    elif "lat" in fields or "lon" in fields:
        if "lat" not in fields:
            raise OsmAndError("longitude without latitude")
        if "lon" not in fields:
            raise OsmAndError("latitude without longitude")
        lat, lon = _number("latitude", fields["lat"]), _number("longitude", fields["lon"])
    else:
        return None
    return _position(lat, lon)


def _optional(fields: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        if name in fields:
            return _number(name, fields[name])
    return None


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OsmAndError(f"{name} is not a number: {_shown(text)}") from None
    if not math.isfinite(value):
        raise OsmAndError(f"{name} is not a finite number: {_shown(text)}")
    return value


def _flag(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise OsmAndError(f"{name} is not true or false: {_shown(text)}")


# --- the JSON variant ---


def decode_json(body: bytes | str | Mapping[str, object], received_at: datetime) -> OsmAndReport:
    """Decode the JSON body Traccar Client 9+ sends (one location per request)."""
    received_at = _aware_utc(received_at)
    root = _load(body) if isinstance(body, bytes | str) else body
    if not isinstance(root, Mapping):
        raise OsmAndError("JSON body is not an object")
    raw_id = root.get("device_id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    reading = _Reading(_device_id(raw_id if isinstance(raw_id, str) else None), received_at)
    location = root.get("location")
    if location is None:
        return reading.report()
    if isinstance(location, list):
        raise OsmAndError("batched locations are not supported: send one location per request")
    if not isinstance(location, Mapping):
        raise OsmAndError("location is not an object")

    timestamp = location.get("timestamp")
    if isinstance(timestamp, str):
        reading.fix_time = _parse_time(timestamp)
    elif timestamp is not None:
        reading.fix_time = _time_from_number(_json_number("timestamp", timestamp))

    coords = location.get("coords")
    if coords is not None:
        if not isinstance(coords, Mapping):
            raise OsmAndError("coords is not an object")
        lat = _json_number("latitude", coords.get("latitude"))
        lon = _json_number("longitude", coords.get("longitude"))
        reading.position = _position(lat, lon)
        reading.accuracy = _json_optional(coords, "accuracy")
        speed = _json_optional(coords, "speed")
        reading.speed_mps = speed if speed is not None and speed >= 0 else None
        reading.heading_deg = _heading(_json_optional(coords, "heading"))
        reading.altitude_m = _json_optional(coords, "altitude")
    if location.get("mock") is True:
        reading.valid = False

    battery = location.get("battery")
    if battery is not None:
        if not isinstance(battery, Mapping):
            raise OsmAndError("battery is not an object")
        level = _json_optional(battery, "level")
        if level is not None and level != -1:
            if not 0.0 <= level <= 1.0:
                raise OsmAndError(f"battery level out of range (0 to 1): {level}")
            reading.battery_pct = round(level * 100.0, 2)
        charging = battery.get("is_charging")
        if isinstance(charging, bool):
            reading.charging = charging
        elif charging is not None:
            raise OsmAndError("battery.is_charging is not true or false")
    return reading.report()


def _load(body: bytes | str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        raise OsmAndError("body is not JSON") from None


def _json_number(name: str, value: object) -> float:
    if value is None:
        raise OsmAndError(f"no {name}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OsmAndError(f"{name} is not a number: {_shown(repr(value))}")
    try:
        number = float(value)
    except OverflowError:
        raise OsmAndError(f"{name} is not a finite number") from None
    if not math.isfinite(number):
        raise OsmAndError(f"{name} is not a finite number")
    return number


def _json_optional(obj: Mapping[str, object], name: str) -> float | None:
    value = obj.get(name)
    return None if value is None else _json_number(name, value)


# --- shared checks ---


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("received_at must be time-zone aware")
    return moment.astimezone(UTC)


def _device_id(value: str | None) -> str:
    device_id = (value or "").strip()
    if not device_id:
        raise OsmAndError("no device id")
    if len(device_id) > MAX_DEVICE_ID_LENGTH:
        raise OsmAndError(f"device id longer than {MAX_DEVICE_ID_LENGTH} characters")
    if not device_id.isprintable():
        raise OsmAndError("device id has control characters")
    return device_id


def _position(lat: float, lon: float) -> tuple[float, float] | None:
    if not -90.0 <= lat <= 90.0:
        raise OsmAndError(f"latitude out of range: {lat}")
    if not -180.0 <= lon <= 180.0:
        raise OsmAndError(f"longitude out of range: {lon}")
    if lat == 0.0 and lon == 0.0:
        return None  # "null island": what receivers send when they have no position
    return lat, lon


def _heading(value: float | None) -> float | None:
    return None if value is None or value < 0 else value % 360.0


def _not_negative(name: str, value: float | None) -> float | None:
    if value is not None and value < 0:
        raise OsmAndError(f"{name} is negative: {value}")
    return value


def _percent(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 100.0:
        raise OsmAndError(f"battery level out of range (0 to 100 %): {value}")
    return value


def _parse_time(text: str) -> datetime:
    text = text.strip()
    if "%" in text:
        text = unquote(text)
    if _INTEGER.fullmatch(text) or _DECIMAL.fullmatch(text):
        return _time_from_number(text)
    if "T" in text:
        text = _OFFSET_LOST_PLUS.sub(r"+\1", text)
    elif " " not in text:  # a date alone is not a time
        raise OsmAndError(f"timestamp is not a time: {_shown(text)}")
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise OsmAndError(f"timestamp is not a time: {_shown(text)}") from None


def _time_from_number(value: str | float) -> datetime:
    """Seconds, or (from `MILLISECONDS_FROM` on) milliseconds, since the epoch.

    Whole numbers in text are counted exactly, without a detour through float.
    """
    try:
        count: int | float = (
            int(value) if isinstance(value, str) and "." not in value else float(value)
        )
        if abs(count) >= MILLISECONDS_FROM:
            return _EPOCH + timedelta(milliseconds=count)
        return _EPOCH + timedelta(seconds=count)
    except (ValueError, OverflowError):  # too many digits, or beyond year 9999
        raise OsmAndError(f"timestamp out of range: {_shown(str(value))}") from None


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
