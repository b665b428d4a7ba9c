"""People who sign in, their tokens, their organisations, and sharing grants."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tagwatch.api.schemas.common import Strict, UtcDatetime
from tagwatch.service.auth import TokenPair
from tagwatch.store.records import Organisation, OrganisationKind, SharingGrant, User, UserRole

OrganisationId = Field(min_length=1, max_length=100, pattern=r"^[^\s/?#]+$")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_at: datetime = Field(description="when the access token stops working")
    refresh_token: str = Field(description="POST it to /auth/refresh for a new pair, once")
    refresh_expires_at: datetime

    @classmethod
    def of(cls, pair: TokenPair) -> TokenPublic:
        return cls(
            access_token=pair.access.token,
            expires_at=pair.access.expires_at,
            refresh_token=pair.refresh_token,
            refresh_expires_at=pair.refresh_expires_at,
        )


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=1000)
    role: UserRole = UserRole.VIEWER
    organisation_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="default: the admin's own"
    )


class UserUpdate(Strict):
    role: UserRole | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    organisation_id: str | None = Field(default=None, min_length=1, max_length=100)


class UserPublic(BaseModel):
    username: str
    role: UserRole
    organisation_id: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            username=user.username,
            role=user.role,
            organisation_id=user.organisation_id,
            created_at=user.created_at,
        )


class OrganisationCreate(Strict):
    id: str = OrganisationId
    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind


class OrganisationUpdate(Strict):
    name: str = Field(min_length=1, max_length=200)


class OrganisationPublic(BaseModel):
    id: str
    name: str
    kind: OrganisationKind
    created_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationPublic:
        return cls(
            id=organisation.id,
            name=organisation.name,
            kind=organisation.kind,
            created_at=organisation.created_at,
        )


class SubjectMove(Strict):
    organisation_id: str = OrganisationId


class GrantCreate(Strict):
    subject_id: str = Field(min_length=1, max_length=128)
    grantee_organisation_id: str = Field(min_length=1, max_length=100)
    valid_from: UtcDatetime | None = Field(default=None, description="default: now")
    valid_until: UtcDatetime = Field(description="grants always end (at most 366 days)")
    reason: str = Field(default="", max_length=2000)


class GrantPublic(BaseModel):
    id: str
    subject_id: str
    grantee_organisation_id: str
    granted_by: str
    valid_from: datetime
    valid_until: datetime
    reason: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool = Field(description="in force now")

    @classmethod
    def of(cls, grant: SharingGrant, *, now: datetime) -> GrantPublic:
        return cls(
            id=grant.id,
            subject_id=grant.subject_id,
            grantee_organisation_id=grant.grantee_organisation_id,
            granted_by=grant.granted_by,
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
            reason=grant.reason,
            created_at=grant.created_at,
            revoked_at=grant.revoked_at,
            active=grant.active(now),
        )


class DeviceSecretRotate(Strict):
    grace_s: int = Field(
        default=7 * 86400,
        ge=0,
        le=90 * 86400,
        description="how long the old secret keeps working (default 7 days)",
    )


class DeviceSecretRotated(BaseModel):
    device_id: str
    secret: str = Field(description="the new secret, shown once: only a hash is kept")
    previous_valid_until: datetime = Field(description="when the old secret stops working")
