"""The dashboard: a static single-page app under /app that uses only the public API.

The page's files are in `tagwatch/web/static`; its libraries (Leaflet, clustering, drawing,
the offline world outline) are npm packages that `make setup` installs and copies into
`static/vendor` - nothing is fetched from a CDN at run time. `/app/config.json` tells the
page which base-map tile URL to use (`TAGWATCH_TILE_URL`, e.g.
`https://tile.openstreetmap.org/{z}/{x}/{y}.png`); without one, or when tiles fail, the page
draws the offline outline instead.

Every dashboard answer carries security headers: a Content-Security-Policy that allows
scripts from this origin only (the page has no inline script), no framing, no sniffing and
no referrer (the live feed's URL carries the access token).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

DASHBOARD_PATH = "/app"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
VENDOR_PROBE = STATIC_DIR / "vendor" / "leaflet" / "leaflet.js"


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    tile_url: str | None = None
    tile_attribution: str = ""
    time_zone: str = "Europe/London"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DashboardSettings:
        env = os.environ if env is None else env
        return cls(
            tile_url=env.get("TAGWATCH_TILE_URL", "").strip() or None,
            tile_attribution=env.get("TAGWATCH_TILE_ATTRIBUTION", "").strip(),
        )

    def tile_origin(self) -> str | None:
        """The tile server's origin for the CSP (`{s}` subdomains become a wildcard)."""
        if self.tile_url is None:
            return None
        found = re.match(r"^(https?://[^/]+)", self.tile_url)
        if found is None:
            return None
        return found.group(1).replace("{s}", "*")


def content_security_policy(settings: DashboardSettings) -> str:
    images = "'self' data:"
    origin = settings.tile_origin()
    if origin:
        images += f" {origin}"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            # Leaflet and the drawing tools set style attributes on map elements.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "media-src 'self' data:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class DashboardHeaders:
    """Pure ASGI middleware adding security headers to every answer under `prefix`."""

    def __init__(self, app: ASGIApp, *, prefix: str, csp: str) -> None:
        self._app = app
        self._prefix = prefix
        self._headers = {
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cache-Control": "no-cache",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path == "/" or path.startswith(self._prefix)):
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers.items():
                    headers[name] = value
            await send(message)

        await self._app(scope, receive, with_headers)


def install_dashboard(app: FastAPI, settings: DashboardSettings | None = None) -> None:
    """Serve the dashboard at /app (and send / there)."""
    settings = settings if settings is not None else DashboardSettings.from_env()
    if not VENDOR_PROBE.exists():
        logger.warning(
            "dashboard libraries missing in %s: run `make setup` (npm ci) to install them",
            STATIC_DIR / "vendor",
        )

    @app.get("/", include_in_schema=False)
    def to_dashboard() -> RedirectResponse:
        return RedirectResponse(f"{DASHBOARD_PATH}/", status_code=307)

    @app.get(f"{DASHBOARD_PATH}/config.json", include_in_schema=False)
    def dashboard_config() -> JSONResponse:
        return JSONResponse(
            {
                "tile_url": settings.tile_url,
                "tile_attribution": settings.tile_attribution,
                "time_zone": settings.time_zone,
                "api": "/api/v1",
            }
        )

    app.mount(
        DASHBOARD_PATH,
        StaticFiles(directory=STATIC_DIR, html=True, check_dir=False),
        name="dashboard",
    )
    app.add_middleware(
        DashboardHeaders, prefix=DASHBOARD_PATH, csp=content_security_policy(settings)
    )
