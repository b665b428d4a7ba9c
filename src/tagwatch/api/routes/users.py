"""The people who sign in (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from tagwatch.api.deps import AdminDep, QueriesDep, RequireAdmin
from tagwatch.api.schemas.users import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(*, queries: QueriesDep, _admin: RequireAdmin) -> list[UserPublic]:
    return [UserPublic.of(user) for user in queries.users()]


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(*, body: UserCreate, admin: AdminDep, _admin: RequireAdmin) -> UserPublic:
    return UserPublic.of(admin.create_user(body.username, body.password, body.role))


@router.get("/{username}", response_model=UserPublic)
def get_user(*, username: str, queries: QueriesDep, _admin: RequireAdmin) -> UserPublic:
    return UserPublic.of(queries.user(username))


@router.patch("/{username}", response_model=UserPublic)
def update_user(
    *, username: str, body: UserUpdate, admin: AdminDep, _admin: RequireAdmin
) -> UserPublic:
    return UserPublic.of(admin.update_user(username, role=body.role, password=body.password))


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(*, username: str, admin: AdminDep, _admin: RequireAdmin) -> None:
    admin.delete_user(username)
