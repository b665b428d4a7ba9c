"""The native batch upload: a tag that buffered sends its fixes and events in one request."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tagwatch.api.deps import ClockDep, DeviceId, IngestDep, MetricsDep
from tagwatch.api.schemas.ingest import BatchAccepted, BatchIn

router = APIRouter(prefix="/ingest", tags=["ingest"])


@router.post("/batch", response_model=BatchAccepted)
def upload_batch(
    *, body: BatchIn, device_id: DeviceId, ingest: IngestDep, clock: ClockDep, metrics: MetricsDep
) -> Response:
    """Device credentials: HTTP basic `device_id:secret` or `Authorization: Bearer
    device_id:secret`. Late, out-of-order and duplicate records are fine: the answer (200)
    comes only after the log has stored them durably, so a device may delete its buffer."""
    now = clock.now()
    fixes = [fix.to_domain(device_id, now) for fix in body.fixes]
    events = [event.to_domain(device_id, now) for event in body.events]
    accepted = ingest.accept_batch(device_id, fixes, events)
    metrics.count_ingested("batch", accepted)
    answer = BatchAccepted(
        device_id=device_id, fixes=len(fixes), events=len(events), accepted=accepted
    )
    # Serialised here: FastAPI would validate the model it was given against
    # `response_model` again before dumping it (~3 % of a busy server's work per upload).
    return Response(answer.model_dump_json(), media_type="application/json")
