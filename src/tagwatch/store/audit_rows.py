"""Audit records as rows of `audit_log`, the same in every store.

Both stores keep the same columns in the same order, subject ids and detail as JSON text;
only `at` differs (SQLite: microseconds as an integer, PostgreSQL: timestamptz), so these
helpers take the store's own conversion. How a store hands out seq and finds the chain's
end is its own business and stays in its module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.store.audit_chain import AuditEntry, AuditRecord


def entry_as_stored(entry: AuditEntry, *, at: datetime, detail_json: str) -> AuditEntry:
    """The entry as it will read back, which is what gets hashed.

    `at` is the entry's time after the store's round trip, `detail_json` its canonical
    detail (store.audit_chain.canonical_detail): JSON turns tuples into lists.
    """
    return AuditEntry(
        at=at,
        action=entry.action,
        username=entry.username,
        organisation_id=entry.organisation_id,
        source=entry.source,
        subject_ids=tuple(str(s) for s in entry.subject_ids),
        purpose_code=entry.purpose_code,
        purpose_text=entry.purpose_text,
        detail=json.loads(detail_json),
    )


def audit_log_values(
    stored: AuditEntry,
    *,
    seq: int,
    detail_json: str,
    prev_hash: str,
    digest: str,
    instant: Callable[[datetime], Any],
) -> tuple[Any, ...]:
    """The row of `audit_log` for a stored entry; `instant` writes `at` the store's way."""
    return (
        seq,
        instant(stored.at),
        stored.action,
        stored.username,
        stored.organisation_id,
        stored.source,
        json.dumps(list(stored.subject_ids), ensure_ascii=False),
        stored.purpose_code,
        stored.purpose_text,
        detail_json,
        prev_hash,
        digest,
    )


def appended_record(stored: AuditEntry, *, seq: int, prev_hash: str, digest: str) -> AuditRecord:
    """The record an append returns: the stored entry in its place in the chain."""
    return AuditRecord(
        seq=seq,
        at=stored.at,
        action=stored.action,
        username=stored.username,
        organisation_id=stored.organisation_id,
        source=stored.source,
        subject_ids=stored.subject_ids,
        purpose_code=stored.purpose_code,
        purpose_text=stored.purpose_text,
        detail=stored.detail,
        prev_hash=prev_hash,
        hash=digest,
    )


def audit_record_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> AuditRecord:
    """The record in a row of `audit_log`; `instant` reads `at` back the store's way."""
    return AuditRecord(
        seq=r[0],
        at=instant(r[1]),
        action=r[2],
        username=r[3],
        organisation_id=r[4],
        source=r[5],
        subject_ids=tuple(json.loads(r[6])),
        purpose_code=r[7],
        purpose_text=r[8],
        detail=json.loads(r[9]),
        prev_hash=r[10],
        hash=r[11],
    )
