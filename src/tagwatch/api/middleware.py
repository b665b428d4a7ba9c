"""Pure ASGI middleware (no buffering, so the SSE stream passes straight through)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tagwatch.api.metrics import Metrics


class CountRequests:
    """Counts answered requests by app, method, route template and status.

    The template is the matched route's path without `strip_prefix` (FastAPI versions
    differ in whether a route knows the prefixes of the routers it was included in).
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, name: str, strip_prefix: str = ""
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._name = name
        self._prefix = strip_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "")) or "unmatched"
            if self._prefix and template.startswith(self._prefix + "/"):
                template = template.removeprefix(self._prefix)
            self._metrics.count_request(self._name, scope["method"], template, status)


class LimitBody:
    """Refuses request bodies over `max_bytes` with 413, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self._max:
                await _too_large(send, self._max)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    raise HTTPException(413, f"request body over {self._max} bytes")
            return message

        await self._app(scope, counted, send)


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ApiSecurityHeaders:
    """Security headers on every API answer (paths under `prefix`, and /metrics).

    API answers are JSON, CSV, GPX or an event stream, never pages to render: a CSP of
    `default-src 'none'` and `frame-ancestors 'none'` means a browser runs and frames
    nothing from them, `nosniff` stops it guessing HTML from a CSV cell, and `no-store`
    keeps positions and names out of shared and browser caches. Headers a route set itself
    are left alone. The dashboard has its own, with its own CSP (tagwatch.api.web); the
    Swagger page at /docs loads its scripts from a CDN and is left without a CSP.
    """

    HEADERS = (
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-resource-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self._app = app
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (
            path.startswith(self._prefix + "/") or path == "/metrics"
        ):
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(n, v) for n, v in self.HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self._app(scope, receive, with_headers)
