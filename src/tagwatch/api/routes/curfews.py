"""Curfews: be at the curfew address during a timetable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, QueriesDep
from tagwatch.api.schemas.requirements import CurfewCreate, CurfewPublic, CurfewUpdate

router = APIRouter(prefix="/curfews", tags=["curfews"])


@router.get("", response_model=list[CurfewPublic])
def list_curfews(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
) -> list[CurfewPublic]:
    return [CurfewPublic.of(curfew) for curfew in queries.curfews(subject_id=subject_id)]


@router.post("", response_model=CurfewPublic, status_code=status.HTTP_201_CREATED)
def create_curfew(*, body: CurfewCreate, admin: AdminDep) -> CurfewPublic:
    return CurfewPublic.of(admin.create_curfew(body.to_domain()))


@router.get("/{curfew_id}", response_model=CurfewPublic)
def get_curfew(*, curfew_id: str, queries: QueriesDep) -> CurfewPublic:
    return CurfewPublic.of(queries.curfew(curfew_id))


@router.patch("/{curfew_id}", response_model=CurfewPublic)
def update_curfew(*, curfew_id: str, body: CurfewUpdate, admin: AdminDep) -> CurfewPublic:
    return CurfewPublic.of(admin.update_curfew(curfew_id, body.to_changes()))


@router.delete("/{curfew_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_curfew(*, curfew_id: str, admin: AdminDep) -> None:
    admin.delete_curfew(curfew_id)
