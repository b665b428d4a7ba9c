"""How failures become HTTP answers: a 4xx with a message, never a 500 for a bad request.

| raised | status |
|---|---|
| store NotFoundError | 404 |
| store ConflictError, workflow IllegalTransition | 409 |
| store MissingReferenceError, ValueError (a domain constructor said no) | 422 |
| AuthenticationError | 401 with `WWW-Authenticate: Bearer` |
| DeviceAuthError (the batch upload's device credentials) | 401 with `WWW-Authenticate: Basic` |
| PermissionDenied | 403 |
| RateLimited (sign-ins), DeviceRateLimited (device reports) | 429 with `Retry-After` |
| LogError (the log could not durably take records: NATS down, say) | 503 with `Retry-After` |
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tagwatch.log.contract import LogError
from tagwatch.service.auth import (
    AuthenticationError,
    DeviceAuthError,
    DeviceRateLimited,
    PermissionDenied,
)
from tagwatch.service.ratelimit import RateLimited
from tagwatch.service.workflow import IllegalTransition
from tagwatch.store.errors import ConflictError, MissingReferenceError, NotFoundError


def _answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


async def _not_found(_: Request, error: Exception) -> JSONResponse:
    return _answer(404, str(error) or "not found")


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    return _answer(409, str(error) or "conflict")


async def _missing_reference(_: Request, error: Exception) -> JSONResponse:
    return _answer(422, f"refers to a record that does not exist ({error})")


async def _unprocessable(_: Request, error: Exception) -> JSONResponse:
    return _answer(422, str(error) or "invalid value")


async def _unauthenticated(_: Request, error: Exception) -> JSONResponse:
    return _answer(401, str(error) or "not signed in", {"WWW-Authenticate": "Bearer"})


async def _rate_limited(_: Request, error: Exception) -> JSONResponse:
    wait = getattr(error, "retry_after_s", 1.0)
    reason = error.reason if isinstance(error, DeviceAuthError) else str(error)
    return _answer(429, reason or "too many requests", {"Retry-After": str(int(wait) + 1)})


async def _device_unauthenticated(_: Request, error: Exception) -> JSONResponse:
    reason = error.reason if isinstance(error, DeviceAuthError) else str(error)
    return _answer(401, reason, {"WWW-Authenticate": 'Basic realm="tagwatch devices"'})


async def _forbidden(_: Request, error: Exception) -> JSONResponse:
    return _answer(403, str(error) or "forbidden")


async def _log_unavailable(_: Request, error: Exception) -> JSONResponse:
    # Nothing was acknowledged, so the device or client still holds the data: retry.
    message = f"not stored, try again: {error}"
    return _answer(503, message, {"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LogError, _log_unavailable)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(IllegalTransition, _conflict)  # before ValueError: a subclass
    app.add_exception_handler(MissingReferenceError, _missing_reference)
    app.add_exception_handler(ValueError, _unprocessable)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(DeviceAuthError, _device_unauthenticated)
    app.add_exception_handler(PermissionDenied, _forbidden)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(DeviceRateLimited, _rate_limited)  # not the 401 of its base
