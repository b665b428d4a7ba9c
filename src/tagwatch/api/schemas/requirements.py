"""Zones (as GeoJSON Features), curfews and appointments: what the API accepts and returns.

A zone travels as a GeoJSON Feature: its `geometry` is the shape (see `Geometry`), its
`properties` the rest (`kind`, `name`, `subject_id`, `order_id`, `warning_buffer_m`,
`dwell_s`, `release_s`, `schedule`), its `id` the zone's id. A circle's `radius_m` and a
corridor's `half_width_m` may sit on the geometry or in the properties.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tagwatch.api.schemas.common import Geometry, ScheduleModel, Strict, UtcDatetime
from tagwatch.api.schemas.people import Id, changes
from tagwatch.domain.schedules import Schedule
from tagwatch.domain.zones import (
    DEFAULT_DWELL_S,
    DEFAULT_RELEASE_S,
    Appointment,
    Curfew,
    Zone,
    ZoneKind,
)
from tagwatch.service.admin import new_id

_SIZES = ("radius_m", "half_width_m")


def _sizes_onto_geometry(data: Any) -> Any:
    """Move `radius_m`/`half_width_m` from a Feature's properties onto its geometry."""
    if not isinstance(data, dict):
        return data
    properties, geometry = data.get("properties"), data.get("geometry")
    if isinstance(properties, dict) and isinstance(geometry, dict):
        properties, geometry = dict(properties), dict(geometry)
        for key in _SIZES:
            if key in properties:
                value = properties.pop(key)
                geometry.setdefault(key, value)
        data = {**data, "properties": properties, "geometry": geometry}
    return data


# -- zones -------------------------------------------------------------------------------


class ZoneProperties(Strict):
    subject_id: str = Field(min_length=1)
    kind: ZoneKind
    name: str = Field(default="", max_length=200)
    order_id: str = ""
    warning_buffer_m: float = Field(default=0.0, ge=0)
    dwell_s: float = Field(default=DEFAULT_DWELL_S, ge=0)
    release_s: float = Field(default=DEFAULT_RELEASE_S, ge=0)
    schedule: ScheduleModel | None = Field(default=None, description="default: always")


class ZoneCreate(Strict):
    type: Literal["Feature"]
    id: str | None = Id
    geometry: Geometry
    properties: ZoneProperties

    _sizes = model_validator(mode="before")(_sizes_onto_geometry)

    def to_domain(self) -> Zone:
        p = self.properties
        return Zone(
            id=self.id or new_id(),
            subject_id=p.subject_id,
            kind=p.kind,
            shape=self.geometry.to_shape(),
            name=p.name,
            order_id=p.order_id,
            warning_buffer_m=p.warning_buffer_m,
            dwell_s=p.dwell_s,
            release_s=p.release_s,
            schedule=p.schedule.to_domain() if p.schedule is not None else Schedule(),
        )


class ZonePropertiesUpdate(Strict):
    kind: ZoneKind | None = None
    name: str | None = Field(default=None, max_length=200)
    order_id: str | None = None
    warning_buffer_m: float | None = Field(default=None, ge=0)
    dwell_s: float | None = Field(default=None, ge=0)
    release_s: float | None = Field(default=None, ge=0)
    schedule: ScheduleModel | None = None


class ZoneUpdate(Strict):
    """A partial Feature: the geometry and any properties given replace the stored ones."""

    type: Literal["Feature"] = "Feature"
    geometry: Geometry | None = None
    properties: ZonePropertiesUpdate | None = None

    _sizes = model_validator(mode="before")(_sizes_onto_geometry)

    def to_changes(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.geometry is not None:
            found["shape"] = self.geometry.to_shape()
        if self.properties is not None:
            found.update(changes(self.properties))
            if "schedule" in found:
                found["schedule"] = found["schedule"].to_domain()
        return found


class ZonePropertiesPublic(BaseModel):
    subject_id: str
    kind: ZoneKind
    name: str
    order_id: str
    warning_buffer_m: float
    dwell_s: float
    release_s: float
    schedule: ScheduleModel


class ZonePublic(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: ZonePropertiesPublic

    @classmethod
    def of(cls, zone: Zone) -> ZonePublic:
        return cls(
            id=zone.id,
            geometry=Geometry.of(zone.shape),
            properties=ZonePropertiesPublic(
                subject_id=zone.subject_id,
                kind=zone.kind,
                name=zone.name,
                order_id=zone.order_id,
                warning_buffer_m=zone.warning_buffer_m,
                dwell_s=zone.dwell_s,
                release_s=zone.release_s,
                schedule=ScheduleModel.of(zone.schedule),
            ),
        )


class ZoneCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[ZonePublic]


# -- curfews -----------------------------------------------------------------------------


class CurfewCreate(Strict):
    id: str | None = Id
    subject_id: str = Field(min_length=1)
    address: Geometry = Field(description="where the subject must be: usually a circle")
    schedule: ScheduleModel
    order_id: str = ""
    beacon_device_id: str | None = None
    dwell_s: float = Field(default=DEFAULT_DWELL_S, ge=0)
    release_s: float = Field(default=DEFAULT_RELEASE_S, ge=0)

    def to_domain(self) -> Curfew:
        return Curfew(
            id=self.id or new_id(),
            subject_id=self.subject_id,
            address=self.address.to_shape(),
            schedule=self.schedule.to_domain(),
            order_id=self.order_id,
            beacon_device_id=self.beacon_device_id,
            dwell_s=self.dwell_s,
            release_s=self.release_s,
        )


class CurfewUpdate(Strict):
    address: Geometry | None = None
    schedule: ScheduleModel | None = None
    order_id: str | None = None
    beacon_device_id: str | None = Field(default=None, description="null: no beacon")
    dwell_s: float | None = Field(default=None, ge=0)
    release_s: float | None = Field(default=None, ge=0)

    def to_changes(self) -> dict[str, Any]:
        found = changes(self, nullable=frozenset({"beacon_device_id"}))
        if "address" in found:
            found["address"] = found["address"].to_shape()
        if "schedule" in found:
            found["schedule"] = found["schedule"].to_domain()
        return found


class CurfewPublic(BaseModel):
    id: str
    subject_id: str
    address: dict[str, Any]
    schedule: ScheduleModel
    order_id: str
    beacon_device_id: str | None
    dwell_s: float
    release_s: float

    @classmethod
    def of(cls, curfew: Curfew) -> CurfewPublic:
        return cls(
            id=curfew.id,
            subject_id=curfew.subject_id,
            address=Geometry.of(curfew.address),
            schedule=ScheduleModel.of(curfew.schedule),
            order_id=curfew.order_id,
            beacon_device_id=curfew.beacon_device_id,
            dwell_s=curfew.dwell_s,
            release_s=curfew.release_s,
        )


# -- appointments ------------------------------------------------------------------------


class AppointmentCreate(Strict):
    id: str | None = Id
    subject_id: str = Field(min_length=1)
    place: Geometry
    start: UtcDatetime
    end: UtcDatetime
    grace_s: float = Field(default=600.0, ge=0)
    name: str = Field(default="", max_length=200)
    order_id: str = ""

    def to_domain(self) -> Appointment:
        return Appointment(
            id=self.id or new_id(),
            subject_id=self.subject_id,
            place=self.place.to_shape(),
            start=self.start,
            end=self.end,
            grace_s=self.grace_s,
            name=self.name,
            order_id=self.order_id,
        )


class AppointmentUpdate(Strict):
    place: Geometry | None = None
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    grace_s: float | None = Field(default=None, ge=0)
    name: str | None = Field(default=None, max_length=200)
    order_id: str | None = None

    def to_changes(self) -> dict[str, Any]:
        found = changes(self)
        if "place" in found:
            found["place"] = found["place"].to_shape()
        return found


class AppointmentPublic(BaseModel):
    id: str
    subject_id: str
    place: dict[str, Any]
    start: datetime
    end: datetime
    grace_s: float
    name: str
    order_id: str

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentPublic:
        return cls(
            id=appointment.id,
            subject_id=appointment.subject_id,
            place=Geometry.of(appointment.place),
            start=appointment.start,
            end=appointment.end,
            grace_s=appointment.grace_s,
            name=appointment.name,
            order_id=appointment.order_id,
        )
