"""The latest position of every device, for the live map."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tagwatch.api.deps import ClockDep, CurrentUser, QueriesDep
from tagwatch.api.schemas.positions import PositionCollection, PositionPublic

router = APIRouter(prefix="/positions", tags=["positions"])


@router.get("", response_model=PositionCollection)
def latest_positions(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
    clock: ClockDep,
    _user: CurrentUser,
) -> PositionCollection:
    """A GeoJSON FeatureCollection: each device's latest fix and whom it is fitted to."""
    found = queries.latest_positions(at=clock.now(), subject_id=subject_id)
    return PositionCollection(features=[PositionPublic.of(position) for position in found])
