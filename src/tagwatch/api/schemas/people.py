"""Subjects, devices, assignments and orders: what the API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from tagwatch.api.schemas.common import Strict, UtcDatetime, check_time_zone
from tagwatch.domain.people import (
    DEFAULT_TIME_ZONE,
    Assignment,
    Device,
    DeviceKind,
    Order,
    OrderType,
    RiskLevel,
    Subject,
)
from tagwatch.service.admin import new_id
from tagwatch.service.ingest import UnknownDeviceSeen
from tagwatch.service.queries import DeviceDetail

Id = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\s/?#]+$")


def changes(model: BaseModel, *, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields an Update model was given, by name; null only where `nullable` allows."""
    found = {name: getattr(model, name) for name in model.model_fields_set}
    for name, value in found.items():
        if value is None and name not in nullable:
            raise ValueError(f"{name} cannot be null")
    return found


# -- subjects ----------------------------------------------------------------------------


class SubjectCreate(Strict):
    id: str | None = Id
    name: str = Field(min_length=1, max_length=200)
    risk_level: RiskLevel = RiskLevel.MEDIUM
    reference: str = Field(default="", max_length=200)

    def to_domain(self) -> Subject:
        return Subject(self.id or new_id(), self.name, self.risk_level, self.reference)


class SubjectUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    risk_level: RiskLevel | None = None
    reference: str | None = Field(default=None, max_length=200)

    def to_changes(self) -> dict[str, Any]:
        return changes(self)


class SubjectPublic(BaseModel):
    id: str
    name: str
    risk_level: RiskLevel
    reference: str

    @classmethod
    def of(cls, subject: Subject) -> SubjectPublic:
        return cls(
            id=subject.id,
            name=subject.name,
            risk_level=subject.risk_level,
            reference=subject.reference,
        )


# -- devices -----------------------------------------------------------------------------


class DeviceCreate(Strict):
    id: str = Field(
        min_length=1,
        max_length=128,
        description="the identifier the device reports itself with (IMEI, OsmAnd id)",
    )
    kind: DeviceKind = DeviceKind.TAG
    protocol: str = Field(default="osmand", max_length=40)
    label: str = Field(default="", max_length=200)

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if value != value.strip() or not value.isprintable():
            raise ValueError("a device id must be printable, without surrounding spaces")
        return value

    def to_domain(self) -> Device:
        return Device(self.id, self.kind, self.protocol, self.label)


class DeviceUpdate(Strict):
    kind: DeviceKind | None = None
    protocol: str | None = Field(default=None, max_length=40)
    label: str | None = Field(default=None, max_length=200)

    def to_changes(self) -> dict[str, Any]:
        return changes(self)


class DevicePublic(BaseModel):
    id: str
    kind: DeviceKind
    protocol: str
    label: str
    has_secret: bool | None = Field(default=None, description="only in a device's detail")
    secret_set_at: datetime | None = None
    subject_id: str | None = Field(default=None, description="fitted to now (detail only)")

    @classmethod
    def of(cls, device: Device) -> DevicePublic:
        return cls(id=device.id, kind=device.kind, protocol=device.protocol, label=device.label)

    @classmethod
    def of_detail(cls, detail: DeviceDetail) -> DevicePublic:
        public = cls.of(detail.device)
        public.has_secret = detail.credential is not None
        public.secret_set_at = detail.credential.created_at if detail.credential else None
        public.subject_id = detail.assignment.subject_id if detail.assignment else None
        return public


class DeviceSecretSet(Strict):
    secret: str | None = Field(
        default=None,
        min_length=12,
        max_length=200,
        description="leave out to have a strong secret generated",
    )


class DeviceSecretPublic(BaseModel):
    device_id: str
    secret: str = Field(description="shown once: only a hash is kept")


class UnknownDevicePublic(BaseModel):
    device_id: str
    first_seen: datetime
    last_seen: datetime
    count: int = Field(description="refused requests")

    @classmethod
    def of(cls, seen: UnknownDeviceSeen) -> UnknownDevicePublic:
        return cls(
            device_id=seen.device_id,
            first_seen=seen.first_seen,
            last_seen=seen.last_seen,
            count=seen.count,
        )


# -- assignments -------------------------------------------------------------------------


class AssignmentCreate(Strict):
    device_id: str = Field(min_length=1)
    subject_id: str = Field(min_length=1)
    start: UtcDatetime | None = Field(default=None, description="default: now")
    end: UtcDatetime | None = None

    def to_domain(self, now: datetime) -> Assignment:
        start = self.start if self.start is not None else now
        if self.end is not None and self.end <= start:
            raise ValueError("an assignment must end after it starts")
        return Assignment(self.device_id, self.subject_id, start, self.end)


class AssignmentEnd(Strict):
    device_id: str = Field(min_length=1)
    at: UtcDatetime | None = Field(default=None, description="default: now")


class AssignmentPublic(BaseModel):
    device_id: str
    subject_id: str
    start: datetime
    end: datetime | None

    @classmethod
    def of(cls, assignment: Assignment) -> AssignmentPublic:
        return cls(
            device_id=assignment.device_id,
            subject_id=assignment.subject_id,
            start=assignment.start,
            end=assignment.end,
        )


# -- orders ------------------------------------------------------------------------------


class OrderCreate(Strict):
    id: str | None = Id
    subject_id: str = Field(min_length=1)
    order_type: OrderType
    start: UtcDatetime
    end: UtcDatetime | None = None
    time_zone: str = DEFAULT_TIME_ZONE
    reference: str = Field(default="", max_length=200)
    conditions: list[str] = Field(default_factory=list, max_length=100)

    _time_zone = field_validator("time_zone")(check_time_zone)

    def to_domain(self) -> Order:
        if self.end is not None and self.end <= self.start:
            raise ValueError("an order must end after it starts")
        return Order(
            self.id or new_id(),
            self.subject_id,
            self.order_type,
            self.start,
            self.end,
            self.time_zone,
            self.reference,
            tuple(self.conditions),
        )


class OrderUpdate(Strict):
    order_type: OrderType | None = None
    start: UtcDatetime | None = None
    end: UtcDatetime | None = Field(default=None, description="null: open-ended")
    time_zone: str | None = None
    reference: str | None = Field(default=None, max_length=200)
    conditions: list[str] | None = Field(default=None, max_length=100)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    def to_changes(self) -> dict[str, Any]:
        found = changes(self, nullable=frozenset({"end"}))
        if "conditions" in found:
            found["conditions"] = tuple(found["conditions"])
        return found


class OrderPublic(BaseModel):
    id: str
    subject_id: str
    order_type: OrderType
    start: datetime
    end: datetime | None
    time_zone: str
    reference: str
    conditions: list[str]

    @classmethod
    def of(cls, order: Order) -> OrderPublic:
        return cls(
            id=order.id,
            subject_id=order.subject_id,
            order_type=order.order_type,
            start=order.start,
            end=order.end,
            time_zone=order.time_zone,
            reference=order.reference,
            conditions=list(order.conditions),
        )
