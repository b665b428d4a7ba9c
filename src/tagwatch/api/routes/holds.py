"""Legal holds: evidence requests that keep a subject's fixes through retention purges.

Placing one states a purpose (like reading a trail); alerts place their own holds. Who may
do what: tagwatch.service.holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from tagwatch.api.deps import ContextDep, CurrentPrincipal
from tagwatch.api.schemas.audit import HoldCreate, HoldPublic
from tagwatch.service.audit import Purpose
from tagwatch.service.holds import LegalHolds

router = APIRouter(prefix="/holds", tags=["holds"])


def legal_holds(context: ContextDep, principal: CurrentPrincipal) -> LegalHolds:
    services = context.services
    return LegalHolds(services.store, services.clock, services.audit, principal)


HoldsDep = Annotated[LegalHolds, Depends(legal_holds)]


@router.get("", response_model=list[HoldPublic])
def list_holds(
    *,
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    holds: HoldsDep,
) -> list[HoldPublic]:
    """Holds, active and released, of the subjects you may read; by creation time."""
    return [HoldPublic.of(hold) for hold in holds.list(subject_id=subject_id)]


@router.post("", response_model=HoldPublic, status_code=status.HTTP_201_CREATED)
def place_hold(*, body: HoldCreate, holds: HoldsDep) -> HoldPublic:
    """An evidence request: keep the subject's fixes in [start, end] through purges."""
    hold = holds.place(
        body.subject_id,
        start=body.start,
        end=body.end,
        purpose=Purpose(body.purpose_code, body.purpose),
        note=body.note,
    )
    return HoldPublic.of(hold)


@router.get("/{hold_id}", response_model=HoldPublic)
def get_hold(*, hold_id: str, holds: HoldsDep) -> HoldPublic:
    return HoldPublic.of(holds.get(hold_id))


@router.post("/{hold_id}/release", response_model=HoldPublic)
def release_hold(*, hold_id: str, holds: HoldsDep) -> HoldPublic:
    """Let retention take the held fixes again (it stays on record, released)."""
    return HoldPublic.of(holds.release(hold_id))
