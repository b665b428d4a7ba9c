"""Signing in, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from tagwatch.api.deps import AuthDep, CurrentUser
from tagwatch.api.schemas.users import TokenPublic, UserPublic

public = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])


@public.post("/token", response_model=TokenPublic)
def issue_token(
    *, auth: AuthDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenPublic:
    """Username and password (an OAuth2 password form) for a bearer token."""
    return TokenPublic.of(auth.login(form.username, form.password))


@router.get("/me", response_model=UserPublic)
def who_am_i(*, user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)
