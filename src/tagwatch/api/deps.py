"""Dependencies of the routes, as `Annotated` aliases: one place says how each is obtained.

People: `CurrentUser` is the signed-in user, `CurrentPrincipal` the same with their
organisation and client address. `QueriesDep` and `AdminDep` are the service layer bound to
that principal: they decide what the user may see and do (tagwatch.service.access) and write
the audit log, so a route cannot forget either. `AuditReader` is a principal who may read
the audit log. `StreamPrincipal` also takes the token from `?access_token=` because a
browser's EventSource cannot set headers. `StatedPurpose` is the
purpose of a trail, export or proximity search: query parameters `purpose_code` and
`purpose` (the service refuses with 422 when they are missing).

Dependencies that only look something up are `async def`: FastAPI runs a plain `def`
dependency in a worker thread, and a device upload resolved six of them, six thread
hand-offs per request (tagwatch bench ingest). Those that read the store stay plain.

Devices: `DeviceId` is the device authenticated by its secret (HTTP basic
`device_id:secret`, or `Authorization: Bearer device_id:secret`), rate limited per device.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, cast

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer

from tagwatch.api.context import ApiContext, Services
from tagwatch.api.metrics import Metrics
from tagwatch.service.access import AccessPolicy, OrgAction, Principal
from tagwatch.service.admin import AdminService
from tagwatch.service.audit import Purpose, PurposeCode
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


async def get_context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


ContextDep = Annotated[ApiContext, Depends(get_context)]


async def get_services(context: ContextDep) -> Services:
    return context.services


async def get_auth(context: ContextDep) -> AuthService:
    return context.auth


async def get_clock(context: ContextDep) -> Clock:
    return context.services.clock


async def get_ingest(context: ContextDep) -> Ingest:
    return context.services.ingest


async def get_bus(context: ContextDep) -> Bus:
    return context.services.bus


async def get_metrics(context: ContextDep) -> Metrics:
    return context.metrics


async def client_address(request: Request) -> str | None:
    """The client's IP address as the server sees it (a proxy in front: its address)."""
    return request.client.host if request.client is not None else None


ServicesDep = Annotated[Services, Depends(get_services)]
AuthDep = Annotated[AuthService, Depends(get_auth)]
ClockDep = Annotated[Clock, Depends(get_clock)]
IngestDep = Annotated[Ingest, Depends(get_ingest)]
BusDep = Annotated[Bus, Depends(get_bus)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ClientAddress = Annotated[str | None, Depends(client_address)]


# -- people ------------------------------------------------------------------------------


def current_user(auth: AuthDep, token: Annotated[str | None, Depends(bearer)]) -> User:
    if not token:
        raise AuthenticationError("sign in first: Authorization: Bearer <token>")
    return auth.user_for_token(token)


CurrentUser = Annotated[User, Depends(current_user)]


def current_principal(context: ContextDep, user: CurrentUser, source: ClientAddress) -> Principal:
    services = context.services
    return AccessPolicy(services.store, services.clock).principal(user, source)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _queries(context: ApiContext, principal: Principal) -> Queries:
    services = context.services
    return Queries(services.store, services.clock, services.audit, principal)


async def get_queries(context: ContextDep, principal: CurrentPrincipal) -> Queries:
    return _queries(context, principal)


async def get_admin(context: ContextDep, principal: CurrentPrincipal) -> AdminService:
    services = context.services
    return AdminService(
        services.store,
        services.clock,
        principal=principal,
        audit=services.audit,
        device_secrets=context.device_secrets,
        on_rules_changed=services.monitor.notify_rules_changed,
        on_device_registered=services.ingest.unknown.forget,
        alerts=services.alerts,
    )


QueriesDep = Annotated[Queries, Depends(get_queries)]
AdminDep = Annotated[AdminService, Depends(get_admin)]


def audit_reader(context: ContextDep, principal: CurrentPrincipal) -> Principal:
    """The principal, if they may search and export the audit log (auditors; admins of an
    administrator organisation); PermissionDenied otherwise."""
    services = context.services
    AccessPolicy(services.store, services.clock).require_org(principal, OrgAction.READ_AUDIT)
    return principal


AuditReader = Annotated[Principal, Depends(audit_reader)]


async def require_operator(user: CurrentUser) -> User:
    return require_role(user, UserRole.MONITORING_OPERATOR)


async def require_admin(user: CurrentUser) -> User:
    return require_role(user, UserRole.ADMIN)


# Coarse role gates for routes outside the subject-scoped service layer; the service layer's
# own checks (tagwatch.service.access) are what protects subjects' data.
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


def stream_principal(context: ContextDep, user: StreamUser, source: ClientAddress) -> Principal:
    return current_principal(context, user, source)


StreamPrincipal = Annotated[Principal, Depends(stream_principal)]


async def stream_queries(context: ContextDep, principal: StreamPrincipal) -> Queries:
    return _queries(context, principal)


StreamQueries = Annotated[Queries, Depends(stream_queries)]


async def stated_purpose(
    purpose_code: Annotated[
        PurposeCode | None,
        Query(description="required: why the data is read (a reason code)"),
    ] = None,
    purpose: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="required: why, in words (e.g. a case or incident reference)",
        ),
    ] = None,
) -> Purpose | None:
    """The stated purpose, or None when it is incomplete (the service then says what is
    missing: a 422 with the reason codes listed)."""
    if purpose_code is None or purpose is None or not purpose.strip():
        return None
    return Purpose(purpose_code, purpose)


StatedPurpose = Annotated[Purpose | None, Depends(stated_purpose)]


# -- devices -----------------------------------------------------------------------------


async def device_credentials(request: Request) -> tuple[str, str]:
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


async def authenticated_device(
    context: ContextDep, credentials: Annotated[tuple[str, str], Depends(device_credentials)]
) -> str:
    """On the event loop when the secret was checked recently (an in-memory look-up); a
    full check (a store read and Argon2, ~0.1 s of CPU) goes to a worker thread."""
    device_id, secret = credentials
    secrets = context.device_secrets
    secrets.throttle(device_id)
    if not secrets.recently_checked(device_id, secret) and not await run_in_threadpool(
        secrets.check, device_id, secret
    ):
        context.metrics.count_refused("wrong device key")
        raise DeviceAuthError("wrong device id or secret")
    return device_id


DeviceId = Annotated[str, Depends(authenticated_device)]
