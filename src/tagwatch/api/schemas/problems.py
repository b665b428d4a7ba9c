"""The answers every API route may give besides its own: errors, documented once.

Each is `{"detail": ...}`: a sentence for the errors tagwatch raises (tagwatch.api.errors),
or FastAPI's list of field errors for a request that fails validation (422).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="what went wrong: a sentence, or for a malformed request the field errors"
    )


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("not signed in, or the credentials are wrong"),
    403: _problem("signed in, but not allowed to do this"),
    404: _problem("no such record, or none within your reach"),
    409: _problem("conflicts with what is stored, or the workflow does not allow it now"),
    413: _problem("the request body is too large"),
    422: _problem("the request is malformed or refers to records that do not exist"),
    429: _problem("too many requests: see Retry-After"),
    503: _problem("not stored: try again (see Retry-After)"),
}
