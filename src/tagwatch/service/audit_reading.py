"""Auditors reading the audit log: allowed only with read_audit, and itself recorded.

The log says who read what about whom, so reading it is reading personal data: a search
records "audit.search" (the filters and how many records came back), an export records
"audit.export" before the first record leaves. Verifying reveals nothing personal and
writes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tagwatch.service.access import AccessPolicy, OrgAction, Principal
from tagwatch.service.audit import AuditTrail
from tagwatch.service.clock import Clock
from tagwatch.store.audit_chain import AuditPage, AuditQuery, AuditRecord, ChainReport
from tagwatch.store.contract import Store


class AuditReading:
    def __init__(self, store: Store, clock: Clock, audit: AuditTrail, principal: Principal) -> None:
        AccessPolicy(store, clock).require_org(principal, OrgAction.READ_AUDIT)
        self._audit = audit
        self._principal = principal

    def search(self, query: AuditQuery, *, after_seq: int = 0, limit: int = 100) -> AuditPage:
        page = self._audit.search(query, after_seq=after_seq, limit=limit)
        self._audit.record(
            self._principal.audit_context,
            "audit.search",
            subject_ids=[query.subject_id] if query.subject_id else (),
            detail={
                "query": query_json(query),
                "after_seq": after_seq,
                "records": len(page.records),
            },
        )
        return page

    def export(self, query: AuditQuery, *, format_name: str) -> Iterator[AuditRecord]:
        self._audit.record(
            self._principal.audit_context,
            "audit.export",
            subject_ids=[query.subject_id] if query.subject_id else (),
            detail={"query": query_json(query), "format": format_name},
        )
        return self._audit.export(query)

    def verify(self) -> ChainReport:
        return self._audit.verify()


def query_json(query: AuditQuery) -> dict[str, Any]:
    """The filters that were given, as JSON (for the audit record of a search)."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in dataclasses.asdict(query).items()
        if value is not None
    }
