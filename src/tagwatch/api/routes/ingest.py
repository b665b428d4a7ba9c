"""The native batch upload: a tag that buffered sends its fixes and events in one request.

The body is parsed and validated by pydantic straight from its JSON bytes
(`model_validate_json`, in Rust) rather than by FastAPI's body handling, which parses it
with `json.loads` first and then validates the Python objects: half the CPU per fix on the
busiest route of a monitoring centre (tagwatch bench ingest). The route still documents its
body (`BatchIn`) in the OpenAPI schema and answers a malformed one with FastAPI's usual 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from tagwatch.api.deps import ClockDep, DeviceId, IngestDep, MetricsDep
from tagwatch.api.metrics import Metrics
from tagwatch.api.schemas.ingest import BatchAccepted, BatchIn
from tagwatch.service.ingest import Ingest

router = APIRouter(prefix="/ingest", tags=["ingest"])


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place of their `$ref`s, so it can
    stand alone in an operation's OpenAPI entry (a `#/$defs/...` pointer there would point
    into the whole OpenAPI document, where no `$defs` are)."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": inline_schema(BatchIn.model_json_schema())}},
    }
}


@router.post("/batch", response_model=BatchAccepted, openapi_extra=_BODY)
async def upload_batch(
    *,
    request: Request,
    device_id: DeviceId,
    ingest: IngestDep,
    clock: ClockDep,
    metrics: MetricsDep,
) -> Response:
    """The body is a `BatchIn`: `{"fixes": [...], "events": [...]}`. Device credentials:
    HTTP basic `device_id:secret` or `Authorization: Bearer device_id:secret`. Late,
    out-of-order and duplicate records are fine: the answer (200) comes only after the log
    has stored them durably, so a device may delete its buffer."""
    try:
        batch = BatchIn.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
    # The log's append waits for its commit and fsync: in a worker thread, not the loop.
    answer = await run_in_threadpool(_accept, batch, device_id, ingest, clock.now(), metrics)
    # Serialised here: FastAPI would validate the model it was given against
    # `response_model` again before dumping it.
    return Response(answer.model_dump_json(), media_type="application/json")


def _accept(
    batch: BatchIn, device_id: str, ingest: Ingest, now: datetime, metrics: Metrics
) -> BatchAccepted:
    fixes = [fix.to_domain(device_id, now) for fix in batch.fixes]
    events = [event.to_domain(device_id, now) for event in batch.events]
    accepted = ingest.accept_batch(device_id, fixes, events)
    metrics.count_ingested("batch", accepted)
    return BatchAccepted(
        device_id=device_id, fixes=len(fixes), events=len(events), accepted=accepted
    )
