"""The audit log's records and its hash chain, shared by every store implementation.

Each record carries `prev_hash`, the hash of the record before it, and `hash`, SHA-256 over
a canonical encoding of its own fields and `prev_hash`: change, remove or reorder a record
and the chain no longer adds up (`tagwatch audit verify` says where). The encoding is plain
JSON so anyone can recompute a hash without tagwatch:

    sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
           .encode("utf-8")).hexdigest()

with `fields` = {"seq", "at" (ISO 8601 UTC, microseconds, "Z"), "username",
"organisation_id", "source", "action", "subject_ids" (list), "purpose_code",
"purpose_text", "detail" (object), "prev_hash"}. The first record's prev_hash is 64 zeros.

Retention may purge the oldest records: the store then keeps a checkpoint (the seq and hash
of the last purged record), the chain starts from it, and the purge itself is recorded in
the chain (action "retention.purge", detail.audit.through_seq/through_hash), so a forged
checkpoint disagrees with the record of the purge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What is appended; the store gives it a seq and its place in the chain."""

    at: datetime
    action: str
    username: str | None = None
    organisation_id: str | None = None
    source: str | None = None
    subject_ids: tuple[str, ...] = ()
    purpose_code: str | None = None
    purpose_text: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"instants must be time-zone aware, not {self.at!r}")
        if not self.action:
            raise ValueError("an audit record needs an action")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record of the audit log as stored."""

    seq: int
    at: datetime
    action: str
    username: str | None
    organisation_id: str | None
    source: str | None
    subject_ids: tuple[str, ...]
    purpose_code: str | None
    purpose_text: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON values (exports, the API)."""
        return {
            "seq": self.seq,
            "at": iso(self.at),
            "action": self.action,
            "username": self.username,
            "organisation_id": self.organisation_id,
            "source": self.source,
            "subject_ids": list(self.subject_ids),
            "purpose_code": self.purpose_code,
            "purpose_text": self.purpose_text,
            "detail": dict(self.detail),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Search filters, each optional; `start`/`end` include both ends."""

    username: str | None = None
    organisation_id: str | None = None
    subject_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("trail." matches trail.read)
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    next_after_seq: int | None  # pass back as `after_seq` for the next page; None on the last


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """Where the stored chain starts after a purge: the last purged record's seq and hash."""

    through_seq: int
    through_hash: str
    at: datetime


class IssueKind(StrEnum):
    ALTERED = "altered"  # the record's content no longer matches its hash
    REHASHED = "rehashed"  # content and hash changed together: the next record disagrees
    REMOVED = "removed"  # seq numbers missing
    REORDERED = "reordered"  # an intact record stored under another record's seq
    CHECKPOINT = "checkpoint"  # the chain's starting point disagrees with its purge record


@dataclass(frozen=True, slots=True)
class ChainIssue:
    kind: IssueKind
    seq: int  # the stored seq of the record concerned (the first missing one for REMOVED)
    message: str
    last_seq: int | None = None  # REMOVED: the last missing seq

    def __str__(self) -> str:
        where = (
            f"seq {self.seq}"
            if self.last_seq in (None, self.seq)
            else (f"seq {self.seq}..{self.last_seq}")
        )
        return f"{self.kind.value.upper()} {where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int  # how many records were checked
    first_seq: int | None
    last_seq: int | None
    head_hash: str  # the hash of the last record (or the checkpoint's, or genesis)
    issues: tuple[ChainIssue, ...]

    @property
    def intact(self) -> bool:
        return not self.issues


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(
    *,
    seq: int,
    at: datetime,
    action: str,
    username: str | None,
    organisation_id: str | None,
    source: str | None,
    subject_ids: Sequence[str],
    purpose_code: str | None,
    purpose_text: str | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    fields = {
        "seq": seq,
        "at": iso(at),
        "action": action,
        "username": username,
        "organisation_id": organisation_id,
        "source": source,
        "subject_ids": list(subject_ids),
        "purpose_code": purpose_code,
        "purpose_text": purpose_text,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def entry_hash(entry: AuditEntry, *, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(
        canonical_bytes(
            seq=seq,
            at=entry.at,
            action=entry.action,
            username=entry.username,
            organisation_id=entry.organisation_id,
            source=entry.source,
            subject_ids=entry.subject_ids,
            purpose_code=entry.purpose_code,
            purpose_text=entry.purpose_text,
            detail=entry.detail,
            prev_hash=prev_hash,
        )
    ).hexdigest()


def record_hash(record: AuditRecord, *, seq: int | None = None) -> str:
    """The hash the record's content gives (at `seq` if given: where was it written?)."""
    return hashlib.sha256(
        canonical_bytes(
            seq=record.seq if seq is None else seq,
            at=record.at,
            action=record.action,
            username=record.username,
            organisation_id=record.organisation_id,
            source=record.source,
            subject_ids=record.subject_ids,
            purpose_code=record.purpose_code,
            purpose_text=record.purpose_text,
            detail=record.detail,
            prev_hash=record.prev_hash,
        )
    ).hexdigest()


def canonical_detail(detail: Mapping[str, Any]) -> str:
    """The detail as stored: canonical JSON (a value JSON cannot hold raises TypeError)."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
