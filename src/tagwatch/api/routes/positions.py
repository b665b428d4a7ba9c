"""Where devices are: the latest position of each (the live map), and the fixes near a place
and time (crime-scene correlation). Both are location reads: scoped and audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tagwatch.api.deps import ClockDep, QueriesDep, StatedPurpose
from tagwatch.api.schemas.common import UtcDatetime
from tagwatch.api.schemas.positions import PositionCollection, PositionPublic
from tagwatch.service.exports import fix_point, fix_properties
from tagwatch.service.queries import MAX_SEARCH_RADIUS_M
from tagwatch.store.records import NearbyFix

router = APIRouter(prefix="/positions", tags=["positions"])


class NearbyFixPublic(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None
    properties: dict[str, Any]

    @classmethod
    def of(cls, hit: NearbyFix) -> NearbyFixPublic:
        return cls(
            geometry=fix_point(hit.fix),
            properties={
                "subject_id": hit.subject_id,
                "distance_m": round(hit.distance_m, 1),
                **fix_properties(hit.fix),
            },
        )


class NearbyFixCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[NearbyFixPublic]


@router.get("", response_model=PositionCollection)
def latest_positions(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
    clock: ClockDep,
) -> PositionCollection:
    """A GeoJSON FeatureCollection: each device's latest fix and whom it is fitted to, for
    the subjects you may see (audited as position.read)."""
    found = queries.latest_positions(at=clock.now(), subject_id=subject_id)
    return PositionCollection(features=[PositionPublic.of(position) for position in found])


@router.get("/near", response_model=NearbyFixCollection)
def fixes_near(
    *,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    radius_m: Annotated[float, Query(gt=0, le=MAX_SEARCH_RADIUS_M)],
    start: Annotated[UtcDatetime, Query(description="first instant, with a time zone")],
    end: Annotated[UtcDatetime, Query(description="last instant, with a time zone")],
    purpose: StatedPurpose,
    queries: QueriesDep,
) -> NearbyFixCollection:
    """Valid fixes whose centre is within `radius_m` of (lon, lat) between `start` and `end`,
    of the subjects whose history you may read, with whom each device was fitted to and the
    distance. Needs `purpose_code` and `purpose` (422 without); audited as search.near."""
    found = queries.fixes_near(
        lon=lon, lat=lat, radius_m=radius_m, start=start, end=end, purpose=purpose
    )
    return NearbyFixCollection(features=[NearbyFixPublic.of(hit) for hit in found])
