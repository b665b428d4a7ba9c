"""The OsmAnd listener (port 5055): positions from Traccar Client, OsmAnd and their kin.

Served on its own port as the apps expect, at any path:

- `GET /?id=...&lat=...` or `POST /` with the same parameters in the query string and/or
  an `application/x-www-form-urlencoded` body (the two are merged, the body winning);
- `POST /` with the JSON body of Traccar Client 9+ (`application/json`, or any body that
  starts with `{`).

Steps, each of which can refuse: **read** (body at most 64 KiB), **decode**
(`tagwatch.protocols.osmand`; 400 with the reason), **authenticate** (`?key=` or HTTP basic
auth with the device id as user; 401 with the reason, see `tagwatch.api.settings` for
TAGWATCH_OSMAND_REQUIRE_KEY), **accept** (`Ingest.accept_osmand`: durable in the log
before it returns). Only then the answer is 200 with an empty body, so the device keeps a
report it was not told was stored and sends it again.

Unknown devices get **403** with "unknown device" (Traccar answers 400): the request is
well formed, the device is not allowed. Traccar Client and OsmAnd keep any report that was
not answered 200 and retry it, so a tag refused while unregistered delivers its buffered
reports once an admin registers it (it is listed in GET /api/v1/unknown-devices meanwhile).
A log that cannot take the records answers 503: nothing is lost, the device retries.
"""

from __future__ import annotations

import base64
import logging
import math
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from tagwatch.api.context import ApiContext
from tagwatch.api.middleware import CountRequests
from tagwatch.log.contract import LogError
from tagwatch.protocols.osmand import OsmAndError, OsmAndReport, decode_json, decode_query
from tagwatch.service.auth import DeviceAuthError, DeviceRateLimited
from tagwatch.service.ingest import UnknownDevice
from tagwatch.store.errors import StoreError

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
METHODS = ["GET", "POST"]


class Refused(Exception):  # noqa: N818 - a step's verdict, not a failure
    def __init__(self, status: int, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


async def read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    return bytes(body)


def decode(request: Request, body: bytes, received_at: datetime) -> tuple[OsmAndReport, str]:
    """The report, and the form/query text it came from ("" for JSON)."""
    query = request.url.query
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or body.lstrip().startswith(b"{"):
        return decode_json(body, received_at), ""
    try:
        form = body.decode("utf-8") if body else ""
    except UnicodeDecodeError:
        raise OsmAndError("body is not UTF-8 text") from None
    text = "&".join(part for part in (query, form) if part)
    return decode_query(text, received_at), text


def device_key(request: Request, report: OsmAndReport, params: str) -> str | None:
    """The key the device sent: `key` in the query/form, else the basic-auth password."""
    keys = parse_qs(params or request.url.query).get("key")
    if keys:
        return keys[-1]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except ValueError:  # binascii.Error, UnicodeDecodeError, or a header past ASCII
        raise Refused(401, "malformed basic credentials") from None
    if user and user != report.device_id:
        raise Refused(401, "the basic-auth user is not the device id")
    return password or None


def accept(context: ApiContext, report: OsmAndReport, key: str | None) -> None:
    """Authenticate and store (in a worker thread: Argon2 and SQLite block)."""
    try:
        context.device_secrets.authorize(
            report.device_id, key, require_secret=context.settings.osmand_require_key
        )
    except DeviceRateLimited as refusal:
        context.metrics.count_refused("rate limited")
        raise Refused(429, refusal.reason, refusal.retry_after_s) from None
    except DeviceAuthError as refusal:
        context.metrics.count_refused(refusal.reason)
        raise Refused(401, refusal.reason) from None
    try:
        context.services.ingest.accept_osmand(report)
    except UnknownDevice:
        context.metrics.count_refused("unknown device")
        raise Refused(403, "unknown device") from None
    except (LogError, StoreError):
        logger.exception("the log did not take a report of %s", report.device_id)
        raise Refused(503, "not stored, try again") from None
    context.metrics.count_ingested("osmand", 1 if report.fix is not None else 0)


def create_osmand_app(context: ApiContext) -> FastAPI:
    app = FastAPI(title="tagwatch OsmAnd listener", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/{path:path}", methods=METHODS)
    async def report(request: Request) -> Response:
        received_at = context.services.clock.now()
        try:
            body = await read_body(request)
            decoded, params = decode(request, body, received_at)
            key = device_key(request, decoded, params)
            await run_in_threadpool(accept, context, decoded, key)
        except OsmAndError as error:
            return PlainTextResponse(error.reason, status_code=400)
        except Refused as refusal:
            logger.info("OsmAnd report refused (%s): %s", refusal.status, refusal.reason)
            headers = (
                {"Retry-After": str(math.ceil(refusal.retry_after_s))}
                if refusal.retry_after_s is not None
                else None
            )
            return PlainTextResponse(refusal.reason, status_code=refusal.status, headers=headers)
        return Response(status_code=200)

    app.add_middleware(CountRequests, metrics=context.metrics, name="osmand")
    return app
