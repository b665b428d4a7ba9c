"""Signing in, refreshing and signing out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from tagwatch.api.deps import AuthDep, ClientAddress, CurrentPrincipal, CurrentUser
from tagwatch.api.schemas.users import RefreshRequest, TokenPublic, UserPublic

public = APIRouter(prefix="/auth", tags=["auth"])
router = APIRouter(prefix="/auth", tags=["auth"])


@public.post(
    "/token",
    response_model=TokenPublic,
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "locked or rate limited"},
    },
)
def issue_token(
    *,
    auth: AuthDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    source: ClientAddress,
) -> TokenPublic:
    """Username and password (an OAuth2 password form) for a short-lived access token and a
    refresh token. Repeated failures lock the username for a while (429 with Retry-After)."""
    return TokenPublic.of(auth.login(form.username, form.password, source=source))


@public.post("/refresh", response_model=TokenPublic, responses={401: {"description": "refused"}})
def refresh_token(*, auth: AuthDep, body: RefreshRequest) -> TokenPublic:
    """A new token pair for a refresh token, which is spent: using it twice revokes the
    whole sign-in (it was copied)."""
    return TokenPublic.of(auth.refresh(body.refresh_token))


@public.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(*, auth: AuthDep, body: RefreshRequest) -> None:
    """Revoke the sign-in the refresh token belongs to (its access tokens expire soon)."""
    auth.logout(body.refresh_token)


@router.get("/me", response_model=UserPublic)
def who_am_i(*, user: CurrentUser, _principal: CurrentPrincipal) -> UserPublic:
    return UserPublic.of(user)
