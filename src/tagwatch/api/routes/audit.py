"""The audit log for auditors: search it, export it, verify its hash chain.

Only principals with read_audit (auditors; admins of an administrator organisation) get
here, checked by the service (tagwatch.service.audit_reading); their own searches and
exports are recorded in the log they read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tagwatch.api.deps import ContextDep, CurrentPrincipal
from tagwatch.api.schemas.audit import (
    AuditPagePublic,
    AuditRecordPublic,
    ChainReportPublic,
    ExportFormat,
    csv_text,
    jsonl_line,
)
from tagwatch.api.schemas.common import UtcDatetime
from tagwatch.service.audit_reading import AuditReading
from tagwatch.store.audit_chain import AuditQuery, AuditRecord

router = APIRouter(prefix="/audit", tags=["audit"])

EXPORT_MEDIA = {
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.CSV: "text/csv; charset=utf-8",
}
EXPORT_CHUNK = 500  # records per chunk of the streamed body


def audit_reading(context: ContextDep, principal: CurrentPrincipal) -> AuditReading:
    services = context.services
    return AuditReading(services.store, services.clock, services.audit, principal)


ReadingDep = Annotated[AuditReading, Depends(audit_reading)]


def audit_query(
    username: Annotated[str | None, Query(max_length=200, description="who acted")] = None,
    organisation_id: Annotated[str | None, Query(max_length=200)] = None,
    subject_id: Annotated[str | None, Query(max_length=200, description="about whom")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=100,
            description="an action (trail.read), or a prefix ending in '.' (trail.)",
        ),
    ] = None,
    start: Annotated[UtcDatetime | None, Query(description="from (inclusive)")] = None,
    end: Annotated[UtcDatetime | None, Query(description="to (inclusive)")] = None,
) -> AuditQuery:
    return AuditQuery(
        username=username,
        organisation_id=organisation_id,
        subject_id=subject_id,
        action=action,
        start=start,
        end=end,
    )


QueryDep = Annotated[AuditQuery, Depends(audit_query)]


@router.get("", response_model=AuditPagePublic)
def search_audit(
    *,
    query: QueryDep,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="the page after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    reading: ReadingDep,
) -> AuditPagePublic:
    """Records matching every filter given, in seq order, a page at a time."""
    page = reading.search(query, after_seq=after_seq, limit=limit)
    return AuditPagePublic(
        records=[AuditRecordPublic.of(r) for r in page.records],
        next_after_seq=page.next_after_seq,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m in EXPORT_MEDIA.values()}}},
)
def export_audit(
    *,
    query: QueryDep,
    format: Annotated[ExportFormat, Query(description="jsonl or csv")] = ExportFormat.JSONL,
    reading: ReadingDep,
) -> StreamingResponse:
    """Every matching record with its hashes, streamed (recomputable outside tagwatch)."""
    records = reading.export(query, format_name=format.value)
    name = f"tagwatch-audit.{format.value}"
    return StreamingResponse(
        _chunks(records, format),
        media_type=EXPORT_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _chunks(records: Iterator[AuditRecord], fmt: ExportFormat) -> Iterator[str]:
    if fmt is ExportFormat.CSV:
        yield csv_text((), header=True)
    batch: list[AuditRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= EXPORT_CHUNK:
            yield _text(batch, fmt)
            batch = []
    if batch:
        yield _text(batch, fmt)


def _text(records: list[AuditRecord], fmt: ExportFormat) -> str:
    if fmt is ExportFormat.CSV:
        return csv_text(records, header=False)
    return "".join(jsonl_line(r) for r in records)


@router.get("/verify", response_model=ChainReportPublic)
def verify_audit(*, reading: ReadingDep) -> ChainReportPublic:
    """Walk the hash chain: every altered, removed or reordered record, by seq."""
    return ChainReportPublic.of(reading.verify())
