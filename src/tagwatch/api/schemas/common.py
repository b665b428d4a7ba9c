"""Shared pieces of the API's JSON: GeoJSON geometries and schedules (store/codec.py forms)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tagwatch.domain.people import DEFAULT_TIME_ZONE
from tagwatch.domain.schedules import ExceptionMode, Schedule
from tagwatch.domain.zones import Shape
from tagwatch.store import codec


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An instant with a time zone (a naive one is a 422), kept in UTC as the store keeps it."""


class Strict(BaseModel):
    """Input models refuse fields they do not know, so a typo is a 422, not silently lost."""

    model_config = ConfigDict(extra="forbid")


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


class Geometry(BaseModel):
    """A GeoJSON geometry in WGS84 (longitude, latitude).

    `Point` + `radius_m` is a circle, `LineString` + `half_width_m` a corridor, `Polygon`
    and `MultiPolygon` areas (exterior ring, then holes).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "Point", "coordinates": [-0.336, 51.752], "radius_m": 200.0},
                {
                    "type": "Polygon",
                    "coordinates": [[[-0.34, 51.75], [-0.33, 51.75], [-0.33, 51.76]]],
                },
            ]
        },
    )

    type: Literal["Point", "LineString", "Polygon", "MultiPolygon"]
    coordinates: list[Any]
    radius_m: float | None = Field(default=None, gt=0)
    half_width_m: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _is_a_shape(self) -> Geometry:
        self.to_shape()  # a ValueError here becomes a 422 naming the geometry
        return self

    def to_shape(self) -> Shape:
        try:
            return codec.shape_from_geojson(self.model_dump(exclude_none=True))
        except (TypeError, IndexError, KeyError) as error:  # e.g. an object for a position
            raise ValueError(f"malformed coordinates: {error!r}") from None

    @classmethod
    def of(cls, shape: Shape) -> dict[str, Any]:
        return codec.shape_to_geojson(shape)


class WeeklyWindowModel(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: time = Field(description="local wall-clock time, e.g. 19:00")
    end: time = Field(description="not after start: overnight, closing the next day")


class ScheduleExceptionModel(Strict):
    start: UtcDatetime
    end: UtcDatetime
    mode: ExceptionMode = ExceptionMode.LIFTED
    reason: str = ""


class ScheduleModel(Strict):
    """When a requirement applies. Without windows it applies always."""

    always: bool | None = Field(default=None, description="default: true when no windows")
    windows: list[WeeklyWindowModel] = Field(default_factory=list, max_length=500)
    first_day: date | None = None
    last_day: date | None = None
    exceptions: list[ScheduleExceptionModel] = Field(default_factory=list, max_length=1000)
    time_zone: str = DEFAULT_TIME_ZONE

    _time_zone = field_validator("time_zone")(check_time_zone)

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleModel:
        if self.always is True and self.windows:
            raise ValueError("a schedule is either always or has windows, not both")
        if self.always is False and not self.windows:
            raise ValueError("a schedule that is not always needs windows")
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        self.to_domain()
        return self

    def to_domain(self) -> Schedule:
        data = self.model_dump(mode="json")
        data["always"] = not self.windows if self.always is None else self.always
        return codec.schedule_from_json(data)

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleModel:
        return cls.model_validate(codec.schedule_to_json(schedule))
