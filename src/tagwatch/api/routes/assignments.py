"""Which device is fitted to which subject, over which time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, ClockDep, QueriesDep
from tagwatch.api.schemas.common import UtcDatetime
from tagwatch.api.schemas.people import AssignmentCreate, AssignmentEnd, AssignmentPublic

router = APIRouter(prefix="/assignments", tags=["assignments"])


@router.get("", response_model=list[AssignmentPublic])
def list_assignments(
    *,
    device_id: Annotated[str | None, Query()] = None,
    subject_id: Annotated[str | None, Query()] = None,
    at: Annotated[UtcDatetime | None, Query(description="only those covering it")] = None,
    queries: QueriesDep,
) -> list[AssignmentPublic]:
    found = queries.assignments(device_id=device_id, subject_id=subject_id, at=at)
    return [AssignmentPublic.of(assignment) for assignment in found]


@router.post("", response_model=AssignmentPublic, status_code=status.HTTP_201_CREATED)
def assign_device(*, body: AssignmentCreate, admin: AdminDep, clock: ClockDep) -> AssignmentPublic:
    """Fit a device to a subject (409 if it overlaps another assignment of the device)."""
    return AssignmentPublic.of(admin.assign(body.to_domain(clock.now())))


@router.post("/end", response_model=AssignmentPublic)
def end_assignment(*, body: AssignmentEnd, admin: AdminDep) -> AssignmentPublic:
    """End the device's current assignment (the tag was removed)."""
    return AssignmentPublic.of(admin.end_assignment(body.device_id, body.at))
