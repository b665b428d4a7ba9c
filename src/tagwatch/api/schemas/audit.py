"""The audit log and legal holds as the API shows them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from tagwatch.api.schemas.common import Strict, UtcDatetime
from tagwatch.service.audit import MAX_PURPOSE_TEXT, PurposeCode
from tagwatch.store.audit_chain import AuditRecord, ChainReport
from tagwatch.store.holds import HoldReason, LegalHold


class AuditRecordPublic(BaseModel):
    seq: int
    at: datetime
    action: str
    username: str | None
    organisation_id: str | None
    source: str | None
    subject_ids: list[str]
    purpose_code: str | None
    purpose_text: str | None
    detail: dict[str, Any]
    prev_hash: str = Field(description="the hash of the record before (64 zeros: the first)")
    hash: str = Field(description="SHA-256 of the canonical record (see the README)")

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRecordPublic:
        return cls(
            seq=record.seq,
            at=record.at,
            action=record.action,
            username=record.username,
            organisation_id=record.organisation_id,
            source=record.source,
            subject_ids=list(record.subject_ids),
            purpose_code=record.purpose_code,
            purpose_text=record.purpose_text,
            detail=dict(record.detail),
            prev_hash=record.prev_hash,
            hash=record.hash,
        )


class AuditPagePublic(BaseModel):
    records: list[AuditRecordPublic]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page")


class ChainIssuePublic(BaseModel):
    kind: str
    seq: int
    last_seq: int | None
    message: str


class ChainReportPublic(BaseModel):
    intact: bool
    records: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str
    issues: list[ChainIssuePublic]

    @classmethod
    def of(cls, report: ChainReport) -> ChainReportPublic:
        return cls(
            intact=report.intact,
            records=report.records,
            first_seq=report.first_seq,
            last_seq=report.last_seq,
            head_hash=report.head_hash,
            issues=[
                ChainIssuePublic(
                    kind=i.kind.value, seq=i.seq, last_seq=i.last_seq, message=i.message
                )
                for i in report.issues
            ],
        )


class HoldCreate(Strict):
    """An evidence request: keep a subject's fixes in [start, end] through retention."""

    subject_id: str = Field(min_length=1, max_length=200)
    start: UtcDatetime
    end: UtcDatetime | None = Field(default=None, description="none: until released")
    purpose_code: PurposeCode
    purpose: str = Field(
        min_length=1, max_length=MAX_PURPOSE_TEXT, description="why: a case or request reference"
    )
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> HoldCreate:
        if self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        if not self.purpose.strip():
            raise ValueError("purpose must not be blank")
        return self


class HoldPublic(BaseModel):
    id: str
    subject_id: str
    start: datetime
    end: datetime | None
    reason: HoldReason
    note: str
    created_by: str | None
    alert_id: str | None
    created_at: datetime
    released_at: datetime | None

    @classmethod
    def of(cls, hold: LegalHold) -> HoldPublic:
        return cls(
            id=hold.id,
            subject_id=hold.subject_id,
            start=hold.start,
            end=hold.end,
            reason=hold.reason,
            note=hold.note,
            created_by=hold.created_by,
            alert_id=hold.alert_id,
            created_at=hold.created_at,
            released_at=hold.released_at,
        )


# -- exports (the API's and `tagwatch audit export`'s) ----------------------------------


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


CSV_FIELDS = (
    "seq",
    "at",
    "action",
    "username",
    "organisation_id",
    "source",
    "subject_ids",
    "purpose_code",
    "purpose_text",
    "detail",
    "prev_hash",
    "hash",
)


def jsonl_line(record: AuditRecord) -> str:
    """One record as a JSON line: exactly the hashed fields plus the hashes."""
    return json.dumps(record.as_json(), ensure_ascii=False) + "\n"


def csv_text(records: Iterable[AuditRecord], *, header: bool) -> str:
    """Records as CSV rows (subject ids space-separated, detail as JSON)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    if header:
        writer.writeheader()
    for record in records:
        row = record.as_json()
        row["subject_ids"] = " ".join(record.subject_ids)
        row["detail"] = json.dumps(row["detail"], sort_keys=True, ensure_ascii=False)
        writer.writerow(row)
    return out.getvalue()
