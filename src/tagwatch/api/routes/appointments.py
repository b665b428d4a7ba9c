"""Attendance requirements: be at a place for an appointment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, QueriesDep
from tagwatch.api.schemas.requirements import (
    AppointmentCreate,
    AppointmentPublic,
    AppointmentUpdate,
)

router = APIRouter(prefix="/appointments", tags=["appointments"])


@router.get("", response_model=list[AppointmentPublic])
def list_appointments(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
) -> list[AppointmentPublic]:
    found = queries.appointments(subject_id=subject_id)
    return [AppointmentPublic.of(appointment) for appointment in found]


@router.post("", response_model=AppointmentPublic, status_code=status.HTTP_201_CREATED)
def create_appointment(*, body: AppointmentCreate, admin: AdminDep) -> AppointmentPublic:
    return AppointmentPublic.of(admin.create_appointment(body.to_domain()))


@router.get("/{appointment_id}", response_model=AppointmentPublic)
def get_appointment(*, appointment_id: str, queries: QueriesDep) -> AppointmentPublic:
    return AppointmentPublic.of(queries.appointment(appointment_id))


@router.patch("/{appointment_id}", response_model=AppointmentPublic)
def update_appointment(
    *, appointment_id: str, body: AppointmentUpdate, admin: AdminDep
) -> AppointmentPublic:
    return AppointmentPublic.of(admin.update_appointment(appointment_id, body.to_changes()))


@router.delete("/{appointment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_appointment(*, appointment_id: str, admin: AdminDep) -> None:
    admin.delete_appointment(appointment_id)
