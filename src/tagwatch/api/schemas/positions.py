"""Latest positions as GeoJSON Features."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from tagwatch.service.exports import fix_point, fix_properties
from tagwatch.service.queries import Position


class PositionPublic(BaseModel):
    """A device's latest fix; `geometry` is null for a fix without a valid position."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]

    @classmethod
    def of(cls, position: Position) -> PositionPublic:
        fix = position.fix
        return cls(
            id=fix.device_id,
            geometry=fix_point(fix),
            properties={"subject_id": position.subject_id, **fix_properties(fix)},
        )


class PositionCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[PositionPublic]
