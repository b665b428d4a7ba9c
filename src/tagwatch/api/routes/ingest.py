"""The native batch upload: a tag that buffered sends its fixes and events in one request."""

from __future__ import annotations

from fastapi import APIRouter

from tagwatch.api.deps import ClockDep, DeviceId, IngestDep, MetricsDep
from tagwatch.api.schemas.ingest import BatchAccepted, BatchIn

router = APIRouter(prefix="/ingest", tags=["ingest"])


@router.post("/batch", response_model=BatchAccepted)
def upload_batch(
    *, body: BatchIn, device_id: DeviceId, ingest: IngestDep, clock: ClockDep, metrics: MetricsDep
) -> BatchAccepted:
    """Device credentials: HTTP basic `device_id:secret` or `Authorization: Bearer
    device_id:secret`. Late, out-of-order and duplicate records are fine: the answer (200)
    comes only after the log has stored them durably, so a device may delete its buffer."""
    now = clock.now()
    fixes = [fix.to_domain(device_id, now) for fix in body.fixes]
    events = [event.to_domain(device_id, now) for event in body.events]
    accepted = ingest.accept_batch(device_id, fixes, events)
    metrics.count_ingested("batch", accepted)
    return BatchAccepted(
        device_id=device_id, fixes=len(fixes), events=len(events), accepted=accepted
    )
