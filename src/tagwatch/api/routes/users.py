"""The people who sign in: admins manage their organisation's users (administrators:
everybody's); the service layer decides (tagwatch.service.access)."""

from __future__ import annotations

from fastapi import APIRouter, status

from tagwatch.api.deps import AdminDep, QueriesDep
from tagwatch.api.schemas.users import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(*, queries: QueriesDep) -> list[UserPublic]:
    return [UserPublic.of(user) for user in queries.users()]


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(*, body: UserCreate, admin: AdminDep) -> UserPublic:
    user = admin.create_user(
        body.username, body.password, body.role, organisation_id=body.organisation_id
    )
    return UserPublic.of(user)


@router.get("/{username}", response_model=UserPublic)
def get_user(*, username: str, queries: QueriesDep) -> UserPublic:
    return UserPublic.of(queries.user(username))


@router.patch("/{username}", response_model=UserPublic)
def update_user(*, username: str, body: UserUpdate, admin: AdminDep) -> UserPublic:
    user = admin.update_user(
        username, role=body.role, password=body.password, organisation_id=body.organisation_id
    )
    return UserPublic.of(user)


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(*, username: str, admin: AdminDep) -> None:
    admin.delete_user(username)
