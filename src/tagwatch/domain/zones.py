"""Places that requirements refer to: exclusion and inclusion zones, curfews, appointments.

Shapes are given in WGS84 (longitude, latitude) as in GeoJSON; the engine measures them
in metres in a projected CRS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from tagwatch.domain.schedules import Schedule

LonLat: TypeAlias = tuple[float, float]
Ring: TypeAlias = tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class Circle:
    lon: float
    lat: float
    radius_m: float

    def __post_init__(self) -> None:
        if not self.radius_m > 0:
            raise ValueError("a circle needs a positive radius")


@dataclass(frozen=True, slots=True)
class Area:
    """A polygon or multipolygon: a tuple of polygons, each an exterior ring then holes."""

    polygons: tuple[tuple[Ring, ...], ...]

    def __post_init__(self) -> None:
        if not self.polygons or any(not polygon for polygon in self.polygons):
            raise ValueError("an area needs at least one polygon with an exterior ring")
        for polygon in self.polygons:
            for ring in polygon:
                if len(ring) < 3:
                    raise ValueError("a polygon ring needs at least three points")


@dataclass(frozen=True, slots=True)
class Corridor:
    """A buffered line: a route the subject must keep to, or a road they must keep off."""

    path: tuple[LonLat, ...]
    half_width_m: float

    def __post_init__(self) -> None:
        if len(self.path) < 2:
            raise ValueError("a corridor needs a path of at least two points")
        if not self.half_width_m > 0:
            raise ValueError("a corridor needs a positive half width")


Shape: TypeAlias = Circle | Area | Corridor


class ZoneKind(StrEnum):
    EXCLUSION = "exclusion"  # must not enter
    INCLUSION = "inclusion"  # must stay inside


DEFAULT_DWELL_S = 300.0
DEFAULT_RELEASE_S = 120.0


@dataclass(frozen=True, slots=True)
class Zone:
    """An exclusion or inclusion zone of a subject's order.

    dwell_s: how long uncertain evidence must persist to open an episode.
    release_s: how long confirmed compliance must persist to close one.
    warning_buffer_m: an approach warning is raised when a fix enters this band outside an
    exclusion zone (0 = no warning).
    """

    id: str
    subject_id: str
    kind: ZoneKind
    shape: Shape
    name: str = ""
    order_id: str = ""
    warning_buffer_m: float = 0.0
    dwell_s: float = DEFAULT_DWELL_S
    release_s: float = DEFAULT_RELEASE_S
    schedule: Schedule = field(default_factory=Schedule)

    def __post_init__(self) -> None:
        if self.warning_buffer_m < 0 or self.dwell_s < 0 or self.release_s < 0:
            raise ValueError("warning buffer, dwell and release must not be negative")


@dataclass(frozen=True, slots=True)
class Curfew:
    """Be at the curfew address during the timetable.

    The address is an inclusion shape (usually a circle around the house). If the subject
    has a home monitoring unit, its beacon being in range counts as home whatever GPS says.
    """

    id: str
    subject_id: str
    address: Shape
    schedule: Schedule
    order_id: str = ""
    beacon_device_id: str | None = None
    dwell_s: float = DEFAULT_DWELL_S
    release_s: float = DEFAULT_RELEASE_S


@dataclass(frozen=True, slots=True)
class Appointment:
    """An attendance requirement: be at `place` from `start` (plus grace) until `end`."""

    id: str
    subject_id: str
    place: Shape
    start: datetime
    end: datetime
    grace_s: float = 600.0
    name: str = ""
    order_id: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("appointment times must be time-zone aware")
        if self.end <= self.start:
            raise ValueError("an appointment must end after it starts")
