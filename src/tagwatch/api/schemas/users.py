"""People who sign in, and their tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tagwatch.api.schemas.common import Strict
from tagwatch.service.auth import IssuedToken
from tagwatch.store.records import User, UserRole


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_at: datetime

    @classmethod
    def of(cls, issued: IssuedToken) -> TokenPublic:
        return cls(access_token=issued.token, expires_at=issued.expires_at)


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=1000)
    role: UserRole = UserRole.VIEWER


class UserUpdate(Strict):
    role: UserRole | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)


class UserPublic(BaseModel):
    username: str
    role: UserRole
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(username=user.username, role=user.role, created_at=user.created_at)
