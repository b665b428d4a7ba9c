"""What devices report: position fixes and device events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FixSource(StrEnum):
    GNSS = "gnss"
    CELL = "cell"
    WIFI = "wifi"


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report.

    `fix_time` is when the position was measured and is what rules run on; `device_time` is
    the device's clock when it sent the record, `received_at` when tagwatch received it.
    `accuracy_m` is the radius of the 95 % confidence circle, normalised at decode time.
    An invalid fix (no satellites, no position) still proves the device is talking.
    """

    device_id: str
    fix_time: datetime
    lat: float
    lon: float
    accuracy_m: float
    valid: bool = True
    received_at: datetime | None = None
    device_time: datetime | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    source: FixSource = FixSource.GNSS

    def __post_init__(self) -> None:
        if self.fix_time.tzinfo is None:
            raise ValueError("fix_time must be time-zone aware")
        if self.valid:
            if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
                raise ValueError(f"position out of range: lat={self.lat} lon={self.lon}")
            if not self.accuracy_m >= 0:
                raise ValueError("accuracy must not be negative")


class DeviceEventKind(StrEnum):
    STRAP_TAMPER = "strap_tamper"
    STRAP_RESTORED = "strap_restored"
    CASE_TAMPER = "case_tamper"
    CASE_RESTORED = "case_restored"
    BATTERY_LEVEL = "battery_level"  # value: percent
    CHARGING_ON = "charging_on"
    CHARGING_OFF = "charging_off"
    BEACON_IN_RANGE = "beacon_in_range"
    BEACON_OUT_OF_RANGE = "beacon_out_of_range"
    POWER_ON = "power_on"
    POWER_OFF = "power_off"
    GPS_JAMMING_SUSPECTED = "gps_jamming_suspected"
    GPS_JAMMING_CLEARED = "gps_jamming_cleared"
    HEARTBEAT = "heartbeat"  # the device talked without anything else to say


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    device_id: str
    time: datetime
    kind: DeviceEventKind
    value: float | None = None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("device event time must be time-zone aware")
