"""Organisations (police forces, probation regions, the monitoring centre, administrators)
and the time-limited sharing grants between them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, ClockDep, QueriesDep
from tagwatch.api.schemas.users import (
    GrantCreate,
    GrantPublic,
    OrganisationCreate,
    OrganisationPublic,
    OrganisationUpdate,
)

router = APIRouter(prefix="/organisations", tags=["organisations"])
grants = APIRouter(prefix="/grants", tags=["organisations"])


@router.get("", response_model=list[OrganisationPublic])
def list_organisations(*, queries: QueriesDep) -> list[OrganisationPublic]:
    return [OrganisationPublic.of(found) for found in queries.organisations()]


@router.post("", response_model=OrganisationPublic, status_code=status.HTTP_201_CREATED)
def create_organisation(*, body: OrganisationCreate, admin: AdminDep) -> OrganisationPublic:
    """Administrators only."""
    return OrganisationPublic.of(admin.create_organisation(body.id, body.name, body.kind))


@router.get("/{organisation_id}", response_model=OrganisationPublic)
def get_organisation(*, organisation_id: str, queries: QueriesDep) -> OrganisationPublic:
    return OrganisationPublic.of(queries.organisation(organisation_id))


@router.patch("/{organisation_id}", response_model=OrganisationPublic)
def rename_organisation(
    *, organisation_id: str, body: OrganisationUpdate, admin: AdminDep
) -> OrganisationPublic:
    return OrganisationPublic.of(admin.rename_organisation(organisation_id, body.name))


@grants.get("", response_model=list[GrantPublic])
def list_grants(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
    clock: ClockDep,
) -> list[GrantPublic]:
    """Grants of the subjects you may read, and grants to your organisation."""
    now = clock.now()
    return [GrantPublic.of(grant, now=now) for grant in queries.grants(subject_id=subject_id)]


@grants.post("", response_model=GrantPublic, status_code=status.HTTP_201_CREATED)
def create_grant(*, body: GrantCreate, admin: AdminDep, clock: ClockDep) -> GrantPublic:
    """Let another organisation see one subject from `valid_from` until `valid_until`."""
    grant = admin.grant_access(
        body.subject_id,
        body.grantee_organisation_id,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        reason=body.reason,
    )
    return GrantPublic.of(grant, now=clock.now())


@grants.get("/{grant_id}", response_model=GrantPublic)
def get_grant(*, grant_id: str, queries: QueriesDep, clock: ClockDep) -> GrantPublic:
    return GrantPublic.of(queries.grant(grant_id), now=clock.now())


@grants.delete("/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_grant(*, grant_id: str, admin: AdminDep) -> None:
    """End the grant now (it stays on record, revoked)."""
    admin.revoke_grant(grant_id)
