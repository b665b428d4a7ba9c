"""Exclusion and inclusion zones, as GeoJSON Features in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, QueriesDep
from tagwatch.api.schemas.requirements import ZoneCollection, ZoneCreate, ZonePublic, ZoneUpdate

router = APIRouter(prefix="/zones", tags=["zones"])


@router.get("", response_model=ZoneCollection)
def list_zones(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
) -> ZoneCollection:
    """A GeoJSON FeatureCollection of the zones (of one subject, if given)."""
    zones = queries.zones(subject_id=subject_id)
    return ZoneCollection(features=[ZonePublic.of(zone) for zone in zones])


@router.post("", response_model=ZonePublic, status_code=status.HTTP_201_CREATED)
def create_zone(*, body: ZoneCreate, admin: AdminDep) -> ZonePublic:
    """A GeoJSON Feature: Point + radius_m, Polygon, MultiPolygon or LineString +
    half_width_m; properties subject_id, kind, name, order_id, warning_buffer_m, dwell_s,
    release_s, schedule."""
    return ZonePublic.of(admin.create_zone(body.to_domain()))


@router.get("/{zone_id}", response_model=ZonePublic)
def get_zone(*, zone_id: str, queries: QueriesDep) -> ZonePublic:
    return ZonePublic.of(queries.zone(zone_id))


@router.patch("/{zone_id}", response_model=ZonePublic)
def update_zone(*, zone_id: str, body: ZoneUpdate, admin: AdminDep) -> ZonePublic:
    return ZonePublic.of(admin.update_zone(zone_id, body.to_changes()))


@router.delete("/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_zone(*, zone_id: str, admin: AdminDep) -> None:
    admin.delete_zone(zone_id)
