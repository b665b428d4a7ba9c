"""Teltonika AVL records as tagwatch `Fix` and `DeviceEvent` records.

Position (one `Fix` per AVL record):

- `fix_time` and `device_time` are the record's timestamp: Teltonika stamps a record with
  the GNSS-synchronised clock when it is taken, and has no separate send time.
- **Invalid** (`valid=False`, still proof the device talked, which feeds no-comms and
  no-GPS) when the record has 0 satellites (the device then repeats its last valid position
  with angle and speed 0), when GNSS status (IO 69) is present and is not 1 "on with fix",
  when the coordinates are 0,0, or when they are out of range (then they are dropped: NaN).
- **Accuracy**: Teltonika sends no accuracy radius. HDOP (IO 182, x 0.1), else PDOP (IO 181,
  which is never below HDOP, so the estimate stays on the cautious side), gives the 95 %
  radius as in `tagwatch.protocols.osmand.normalised_accuracy_m` (about 8.7 m per unit of
  HDOP); without either, that module's default of 50 m.
- speed km/h -> m/s; angle -> heading (reduced to [0, 360)); altitude and satellites kept.

Device events come from IO elements (`IoMapping`, configurable):

| IO id | element | event |
|---|---|---|
| 113 | battery level, % | BATTERY_LEVEL (value: percent; over 100 ignored) |
| 66 | external voltage, mV | CHARGING_ON from `external_power_min_mv` (4.5 V) up, else OFF |
| 1 (DIN1) | strap loop (`strap_input`) | STRAP_RESTORED at `strap_closed_value` (1), else TAMPER |
| - (`case_input`) | case switch, if wired | CASE_RESTORED / CASE_TAMPER likewise |
| 318 | GNSS jamming: 0 none, 1 warning, 2 critical | GPS_JAMMING_SUSPECTED at 2, _CLEARED at 0 |

Battery voltage (67), ignition (239), movement (240), GSM signal (21), GNSS status (69)
and the digital inputs 1-4 are decoded into `DeviceStatus` for the gateway's log; the
domain has no field for them (GNSS status is used for validity, above).

The strap default (DIN1, closed = 1) fits a strap whose conductive loop is wired from a
digital input to ground-referenced supply: the input reads 1 while the loop is intact and 0
when it is cut. A tag wired the other way round sets `strap_closed_value=0`; one with the
loop on DIN2 sets `strap_input=2` (TAGWATCH_TELTONIKA_STRAP_INPUT, docs/devices.md).

Events are state reports, and the engine folds them by time (a repeated "tampered" or
"20 %" changes nothing), so within one packet only the first record's state and each
change after it (in time order) become events: a packet of 50 records with a steady strap
makes one strap event, not 50 log rows. Every packet re-asserts the state at its first
record, so a lost or replayed packet cannot leave a wrong state behind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.protocols.osmand import normalised_accuracy_m
from tagwatch.protocols.teltonika_avl import AvlRecord
from tagwatch.protocols.teltonika_errors import Reason, TeltonikaError

KMH_MPS = 1000.0 / 3600.0
IO_DIGITAL_INPUTS = (1, 2, 3, 4)
IO_GSM_SIGNAL = 21
IO_EXTERNAL_VOLTAGE = 66
IO_BATTERY_VOLTAGE = 67
IO_GNSS_STATUS = 69
IO_BATTERY_LEVEL = 113
IO_GNSS_PDOP = 181
IO_GNSS_HDOP = 182
IO_IGNITION = 239
IO_MOVEMENT = 240
IO_GNSS_JAMMING = 318
GNSS_ON_WITH_FIX = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = int((datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)


@dataclass(frozen=True, slots=True)
class IoMapping:
    """Which IO elements mean what for this deployment's tags."""

    strap_input: int | None = 1  # IO id of the digital input on the strap loop; None: none
    strap_closed_value: int = 1  # its value while the strap is intact
    case_input: int | None = None  # IO id of a case-open switch, if the tag has one
    case_closed_value: int = 1
    external_power_min_mv: int = 4500  # external voltage that means "on the charger"

    def __post_init__(self) -> None:
        for io_id in (self.strap_input, self.case_input):
            if io_id is not None and not 0 < io_id < 65536:
                raise ValueError(f"an IO id is 1 to 65535, not {io_id}")
        if self.external_power_min_mv < 0:
            raise ValueError("the external power threshold must not be negative")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What a record's IO elements say about the device, in plain units (None: not sent)."""

    battery_mv: int | None
    battery_pct: int | None
    external_mv: int | None
    ignition: bool | None
    movement: bool | None
    gnss_status: int | None
    gsm_signal: int | None
    digital_inputs: tuple[int | None, ...]


def device_status(record: AvlRecord) -> DeviceStatus:
    def flag(io_id: int) -> bool | None:
        value = record.io(io_id)
        return None if value is None else value != 0

    return DeviceStatus(
        battery_mv=record.io(IO_BATTERY_VOLTAGE),
        battery_pct=record.io(IO_BATTERY_LEVEL),
        external_mv=record.io(IO_EXTERNAL_VOLTAGE),
        ignition=flag(IO_IGNITION),
        movement=flag(IO_MOVEMENT),
        gnss_status=record.io(IO_GNSS_STATUS),
        gsm_signal=record.io(IO_GSM_SIGNAL),
        digital_inputs=tuple(record.io(io_id) for io_id in IO_DIGITAL_INPUTS),
    )


def record_time(record: AvlRecord) -> datetime:
    """The record's timestamp; TeltonikaError for one no calendar can hold."""
    return _time(_checked_ms(record))


def _checked_ms(record: AvlRecord) -> int:
    if record.timestamp_ms > _MAX_MS:
        raise TeltonikaError(Reason.BAD_VALUE, f"timestamp {record.timestamp_ms} ms is past 9999")
    return record.timestamp_ms


def _time(ms: int) -> datetime:
    return _EPOCH + timedelta(0, 0, 0, ms)  # positional: keywords cost more


def to_fix(device_id: str, record: AvlRecord, received_at: datetime | None = None) -> Fix:
    return _fix(device_id, _checked_ms(record), fix_values(record, _io(record)), received_at)


def _io(record: AvlRecord) -> dict[int, int]:
    """Every fixed-size element by id (one look-up each instead of one per size); a
    smaller size wins a repeated id. Empty sizes are skipped: most records fill two."""
    merged: dict[int, int] = {}
    for values in (record.io8, record.io4, record.io2, record.io1):
        if values:
            merged.update(values)
    return merged


class FixValues(NamedTuple):
    """What a record says of its position, in tagwatch units: a `Fix` but for the device
    and the times (its timestamp is both fix and device time)."""

    lat: float
    lon: float
    accuracy_m: float
    valid: bool
    speed_mps: float
    heading_deg: float
    altitude_m: float
    satellites: int
    hdop: float | None


def fix_values(record: AvlRecord, io: Mapping[int, int]) -> FixValues:
    lat_e7, lon_e7, satellites = record.lat_e7, record.lon_e7, record.satellites
    lat, lon = lat_e7 / 1e7, lon_e7 / 1e7
    in_range = -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    gnss = io.get(IO_GNSS_STATUS)
    valid = (
        in_range
        and satellites > 0
        and (gnss is None or gnss == GNSS_ON_WITH_FIX)
        and not (lat_e7 == 0 and lon_e7 == 0)
    )
    if not in_range:
        lat = lon = math.nan
    dop = io.get(IO_GNSS_HDOP) or io.get(IO_GNSS_PDOP)
    hdop = dop / 10.0 if dop else None
    return _new_values(
        FixValues,
        (
            lat,
            lon,
            normalised_accuracy_m(None, hdop),
            valid,
            record.speed_kmh * KMH_MPS,
            record.angle_deg % 360.0,  # heading
            float(record.altitude_m),
            satellites,
            hdop,
        ),
    )


_new_values = tuple.__new__  # FixValues without its __new__'s argument handling


def _fix(device_id: str, ms: int, values: FixValues, received_at: datetime | None) -> Fix:
    time = _time(ms)
    lat, lon, accuracy, valid, speed, heading, altitude, satellites, hdop = values
    return Fix(  # positional (the order of Fix's fields): keywords cost more
        device_id,
        time,  # fix_time
        lat,
        lon,
        accuracy,
        valid,
        received_at,
        time,  # device_time
        speed,
        heading,
        altitude,
        satellites,
        hdop,
    )


State = tuple[str, DeviceEventKind, float | None]  # what (battery, strap ...), event, value
# Members as module constants: an enum member read through its class costs a look-up each.
_BATTERY_LEVEL = DeviceEventKind.BATTERY_LEVEL
_CHARGING_ON, _CHARGING_OFF = DeviceEventKind.CHARGING_ON, DeviceEventKind.CHARGING_OFF
_STRAP_RESTORED, _STRAP_TAMPER = DeviceEventKind.STRAP_RESTORED, DeviceEventKind.STRAP_TAMPER
_CASE_RESTORED, _CASE_TAMPER = DeviceEventKind.CASE_RESTORED, DeviceEventKind.CASE_TAMPER
_JAMMING_SUSPECTED = DeviceEventKind.GPS_JAMMING_SUSPECTED
_JAMMING_CLEARED = DeviceEventKind.GPS_JAMMING_CLEARED


def _states(io: dict[int, int], mapping: IoMapping) -> list[State]:
    """The states the record reports; changes are found per `what`."""
    states: list[State] = []
    battery = io.get(IO_BATTERY_LEVEL)
    if battery is not None and battery <= 100:
        states.append(("battery", _BATTERY_LEVEL, float(battery)))
    external = io.get(IO_EXTERNAL_VOLTAGE)
    if external is not None:
        charging = external >= mapping.external_power_min_mv
        states.append(("power", _CHARGING_ON if charging else _CHARGING_OFF, None))
    if mapping.strap_input is not None:
        strap = io.get(mapping.strap_input)
        if strap is not None:
            intact = strap == mapping.strap_closed_value
            states.append(("strap", _STRAP_RESTORED if intact else _STRAP_TAMPER, None))
    if mapping.case_input is not None:
        case = io.get(mapping.case_input)
        if case is not None:
            shut = case == mapping.case_closed_value
            states.append(("case", _CASE_RESTORED if shut else _CASE_TAMPER, None))
    jamming = io.get(IO_GNSS_JAMMING)
    if jamming == 2:
        states.append(("jamming", _JAMMING_SUSPECTED, None))
    elif jamming == 0:
        states.append(("jamming", _JAMMING_CLEARED, None))
    return states


@dataclass(frozen=True, slots=True)
class Decoded:
    """One packet's records for the log, and the records refused (with why)."""

    fixes: tuple[Fix, ...]
    events: tuple[DeviceEvent, ...]
    refused: tuple[TeltonikaError, ...] = ()


@dataclass(frozen=True, slots=True)
class Readings:
    """One packet in tagwatch units, before it becomes `Fix` and `DeviceEvent` objects:
    fixes as (timestamp ms, values) in record order, events as (timestamp ms, kind,
    value) in time order. `to_domain` makes the objects; a gateway that only writes the
    records to the log can make log records from these without them."""

    fixes: list[tuple[int, FixValues]]
    events: list[tuple[int, DeviceEventKind, float | None]]
    refused: list[TeltonikaError]


def read_packet(records: Sequence[AvlRecord], mapping: IoMapping | None = None) -> Readings:
    """Fix values and state-change events of one packet's records.

    A record whose timestamp no calendar holds is refused alone (it is garbage the device
    will never send differently); the others are kept.
    """
    mapping = mapping if mapping is not None else IoMapping()
    fixes: list[tuple[int, FixValues]] = []
    refused: list[TeltonikaError] = []
    timed: list[tuple[int, dict[int, int]]] = []
    for record in records:
        try:
            ms = _checked_ms(record)
        except TeltonikaError as error:
            refused.append(error)
            continue
        io = _io(record)
        fixes.append((ms, fix_values(record, io)))
        timed.append((ms, io))
    events: list[tuple[int, DeviceEventKind, float | None]] = []
    last: dict[str, tuple[DeviceEventKind, float | None]] = {}
    for ms, io in sorted(timed, key=_first):
        for what, kind, value in _states(io, mapping):
            if last.get(what) != (kind, value):
                last[what] = (kind, value)
                events.append((ms, kind, value))
    return Readings(fixes, events, refused)


def _first(entry: tuple[int, dict[int, int]]) -> int:
    return entry[0]


def to_domain(
    device_id: str,
    records: Sequence[AvlRecord],
    *,
    received_at: datetime | None = None,
    mapping: IoMapping | None = None,
) -> Decoded:
    """Fixes and state-change events of one packet's records (`read_packet`)."""
    readings = read_packet(records, mapping)
    fixes = tuple(_fix(device_id, ms, values, received_at) for ms, values in readings.fixes)
    events = tuple(
        DeviceEvent(device_id, _time(ms), kind, value, received_at)
        for ms, kind, value in readings.events
    )
    return Decoded(fixes, events, tuple(readings.refused))
