"""The native batch upload of tags that buffer: fixes and device events, late and twice."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tagwatch.api.schemas.common import Strict, UtcDatetime
from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix, FixSource

MAX_BATCH = 10_000


class FixIn(Strict):
    fix_time: UtcDatetime
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=1_000_000, description="95 % radius in metres")
    valid: bool = True
    device_time: UtcDatetime | None = None
    speed_mps: float | None = Field(default=None, ge=0)
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    altitude_m: float | None = None
    satellites: int | None = Field(default=None, ge=0)
    hdop: float | None = Field(default=None, ge=0)
    source: FixSource = FixSource.GNSS

    def to_domain(self, device_id: str, received_at: datetime) -> Fix:
        # Positional, in Fix's field order: called for every fix of every upload, and
        # keywords cost noticeably more.
        return Fix(
            device_id,
            self.fix_time,
            self.lat,
            self.lon,
            self.accuracy_m,
            self.valid,
            received_at,
            self.device_time,
            self.speed_mps,
            self.heading_deg,
            self.altitude_m,
            self.satellites,
            self.hdop,
            self.source,
        )


class EventIn(Strict):
    time: UtcDatetime
    kind: DeviceEventKind
    value: float | None = None

    def to_domain(self, device_id: str, received_at: datetime) -> DeviceEvent:
        return DeviceEvent(device_id, self.time, self.kind, self.value, received_at)


class BatchIn(Strict):
    fixes: list[FixIn] = Field(default_factory=list, max_length=MAX_BATCH)
    events: list[EventIn] = Field(default_factory=list, max_length=MAX_BATCH)


class BatchAccepted(BaseModel):
    device_id: str
    fixes: int = Field(description="fixes in the request")
    events: int = Field(description="events in the request")
    accepted: int = Field(description="records the log took (duplicates are fine)")
