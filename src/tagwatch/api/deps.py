"""Dependencies of the routes, as `Annotated` aliases: one place says how each is obtained.

People: `CurrentUser` (any signed-in user: viewers read), `RequireOperator` (works
alerts), `RequireAdmin` (manages users, subjects, devices, orders and requirements);
`StreamUser` also takes the token from `?access_token=` because a browser's EventSource
cannot set headers. Devices: `DeviceId` is the device authenticated by its secret (HTTP
basic `device_id:secret`, or `Authorization: Bearer device_id:secret`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, cast

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer

from tagwatch.api.context import ApiContext, Services
from tagwatch.api.metrics import Metrics
from tagwatch.service.admin import AdminService
from tagwatch.service.auth import (
    AuthenticationError,
    AuthService,
    DeviceAuthError,
    require_role,
)
from tagwatch.service.bus import Bus
from tagwatch.service.clock import Clock
from tagwatch.service.ingest import Ingest
from tagwatch.service.queries import Queries
from tagwatch.store.records import User, UserRole

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a URL, not a password

bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def get_context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


ContextDep = Annotated[ApiContext, Depends(get_context)]


def get_services(context: ContextDep) -> Services:
    return context.services


def get_queries(context: ContextDep) -> Queries:
    return context.queries


def get_admin(context: ContextDep) -> AdminService:
    return context.admin


def get_auth(context: ContextDep) -> AuthService:
    return context.auth


def get_clock(context: ContextDep) -> Clock:
    return context.services.clock


def get_ingest(context: ContextDep) -> Ingest:
    return context.services.ingest


def get_bus(context: ContextDep) -> Bus:
    return context.services.bus


def get_metrics(context: ContextDep) -> Metrics:
    return context.metrics


ServicesDep = Annotated[Services, Depends(get_services)]
QueriesDep = Annotated[Queries, Depends(get_queries)]
AdminDep = Annotated[AdminService, Depends(get_admin)]
AuthDep = Annotated[AuthService, Depends(get_auth)]
ClockDep = Annotated[Clock, Depends(get_clock)]
IngestDep = Annotated[Ingest, Depends(get_ingest)]
BusDep = Annotated[Bus, Depends(get_bus)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


# -- people ------------------------------------------------------------------------------


def current_user(auth: AuthDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    if not token:
        raise AuthenticationError("sign in first: Authorization: Bearer <token>")
    return auth.user_for_token(token)


CurrentUser = Annotated[User, Depends(current_user)]


def require_operator(user: CurrentUser) -> User:
    return require_role(user, UserRole.OPERATOR)


def require_admin(user: CurrentUser) -> User:
    return require_role(user, UserRole.ADMIN)


RequireOperator = Annotated[User, Depends(require_operator)]
RequireAdmin = Annotated[User, Depends(require_admin)]


def stream_user(
    auth: AuthDep,
    token: Annotated[str | None, Depends(bearer)],
    access_token: Annotated[
        str | None, Query(description="the bearer token, for EventSource clients")
    ] = None,
) -> User:
    token = token or access_token
    if not token:
        raise AuthenticationError("sign in first: a bearer token or ?access_token=")
    return auth.user_for_token(token)


StreamUser = Annotated[User, Depends(stream_user)]


# -- devices -----------------------------------------------------------------------------


def device_credentials(request: Request) -> tuple[str, str]:
    """(device_id, secret) from `Authorization: Basic` or `Bearer device_id:secret`."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise DeviceAuthError("malformed basic credentials") from None
    elif scheme.lower() != "bearer":
        raise DeviceAuthError("device credentials needed: basic auth or a bearer device key")
    device_id, colon, secret = value.partition(":")
    if not colon or not device_id or not secret:
        raise DeviceAuthError("device credentials are device_id:secret")
    return device_id, secret


def authenticated_device(
    context: ContextDep, credentials: Annotated[tuple[str, str], Depends(device_credentials)]
) -> str:
    device_id, secret = credentials
    if not context.device_secrets.check(device_id, secret):
        context.metrics.count_refused("wrong device key")
        raise DeviceAuthError("wrong device id or secret")
    return device_id


DeviceId = Annotated[str, Depends(authenticated_device)]
