"""The API app: `create_app(services)` -> FastAPI, everything under /api/v1, docs at /docs.

Every route needs a signed-in user except `POST /api/v1/auth/token`, `GET /api/v1/health`,
`GET /metrics` and the device upload `POST /api/v1/ingest/batch` (device credentials).
The OsmAnd listener is a separate app on its own port (`tagwatch.api.osmand`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from tagwatch.api.context import ApiContext, Services
from tagwatch.api.deps import current_user
from tagwatch.api.errors import install_error_handlers
from tagwatch.api.middleware import ApiSecurityHeaders, CountRequests, LimitBody
from tagwatch.api.routes import (
    alerts,
    appointments,
    assignments,
    audit,
    auth,
    curfews,
    devices,
    health,
    holds,
    ingest,
    orders,
    organisations,
    positions,
    preview,
    stream,
    subjects,
    users,
    zones,
)
from tagwatch.api.schemas.problems import ERROR_RESPONSES
from tagwatch.api.settings import ApiSettings
from tagwatch.api.web import install_dashboard

API_PREFIX = "/api/v1"


def create_app(
    services: Services,
    *,
    settings: ApiSettings | None = None,
    context: ApiContext | None = None,
) -> FastAPI:
    """The API over `services`; pass `context` to share it with the OsmAnd app."""
    context = context if context is not None else ApiContext.build(services, settings)
    app = FastAPI(
        title="tagwatch",
        summary="GPS electronic monitoring: zones, curfews, alerts and evidence",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)

    open_routes = APIRouter(prefix=API_PREFIX)
    open_routes.include_router(auth.public)
    open_routes.include_router(health.router)
    open_routes.include_router(ingest.router)  # device credentials, checked per route
    open_routes.include_router(stream.router)  # a bearer header or ?access_token=

    # Signing in is checked here for every route as well as by each route's own alias, so
    # a route that forgets to name its user is still closed.
    signed_in = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_user)])
    for module in (
        auth,
        users,
        subjects,
        devices,
        assignments,
        orders,
        zones,
        curfews,
        appointments,
        positions,
        alerts,
    ):
        signed_in.include_router(module.router)
    signed_in.include_router(devices.unknown)
    signed_in.include_router(organisations.router)  # organisations and sharing grants
    signed_in.include_router(organisations.grants)
    signed_in.include_router(preview.router)  # zone preview: the engine over a trail
    signed_in.include_router(audit.router)  # auditors: search, export, verify the log
    signed_in.include_router(holds.router)  # legal holds: evidence kept through retention

    app.include_router(open_routes, responses=ERROR_RESPONSES)  # documented for every route
    app.include_router(signed_in, responses=ERROR_RESPONSES)
    app.include_router(health.metrics_router)
    install_dashboard(app)  # the static dashboard at /app, with its security headers

    app.add_middleware(LimitBody, max_bytes=context.settings.max_body_bytes)
    app.add_middleware(ApiSecurityHeaders, prefix=API_PREFIX)
    app.add_middleware(CountRequests, metrics=context.metrics, name="api", strip_prefix=API_PREFIX)
    return app
