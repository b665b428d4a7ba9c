"""The live feed over Server-Sent Events: alerts and positions as they happen.

Each bus message is one SSE event named by its type (`alert`, `position`, `attendance`,
`gap`), its data the message as JSON. Each client gets only the messages about subjects
it may see (tagwatch.service.live), and the subscription is audited. A comment line goes
out every few seconds so proxies keep the connection and a dead client is noticed. `gap`
means this client fell behind and lost messages: reload the alert list and positions. The
stream ends when the client goes or the server shuts down; EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tagwatch.api.deps import BusDep, ContextDep, StreamPrincipal
from tagwatch.service.access import AccessPolicy
from tagwatch.service.live import open_feed

router = APIRouter(tags=["stream"])

KEEPALIVE_S = 15.0
POLL_S = 0.5  # how often a waiting stream checks for shutdown and a vanished client
RETRY_MS = 3000


def sse_event(message: dict[str, Any]) -> str:
    data = json.dumps(message, separators=(",", ":"), allow_nan=False, default=str)
    event = str(message.get("type", "message")).replace("\n", " ")
    return f"event: {event}\ndata: {data}\n\n"


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE events"}},
)
async def live_stream(
    *, request: Request, bus: BusDep, context: ContextDep, principal: StreamPrincipal
) -> StreamingResponse:
    """Alerts and positions as Server-Sent Events. EventSource cannot set headers: pass the
    token as `?access_token=` there (it may then appear in proxy logs: use HTTPS, short
    token lifetimes, and keep such logs private)."""
    closing = context.closing
    services = context.services
    feed_filter = open_feed(AccessPolicy(services.store, services.clock), services.audit, principal)

    async def events() -> AsyncIterator[str]:
        # Subscribed here, not in the route: a client gone before the body starts must not
        # leave a subscription behind. The first bytes come after subscribing.
        async with bus.subscribe() as feed:
            yield f"retry: {RETRY_MS}\n: signed in as {principal.username}\n\n"
            waited = 0.0
            next_message: asyncio.Task[dict[str, Any]] | None = None
            try:
                while not closing.is_set():
                    if next_message is None:
                        next_message = asyncio.ensure_future(feed.get())
                    done, _ = await asyncio.wait({next_message}, timeout=POLL_S)
                    if done:
                        try:
                            message = next_message.result()
                        except StopAsyncIteration:
                            return
                        next_message, waited = None, 0.0
                        if feed_filter.allows(message):
                            yield sse_event(message)
                        continue
                    if await request.is_disconnected():
                        return
                    waited += POLL_S
                    if waited >= KEEPALIVE_S:
                        waited = 0.0
                        yield ": keep-alive\n\n"
            finally:
                if next_message is not None:
                    next_message.cancel()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
