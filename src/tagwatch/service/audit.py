"""The audit trail: who read or changed what, about whom, when, from where, and why.

Every read of location data (live position, trail, export, proximity search) and every
change (orders, zones, alert actions, users, grants) is recorded through `AuditTrail.record`:

    services.audit.record(
        AuditContext(username="pc123", organisation_id="herts-police", source="10.0.0.7"),
        "trail.read",
        subject_ids=["S-1"],
        purpose=Purpose(PurposeCode.INVESTIGATION, "burglary 12/345, Hitchin"),
        detail={"start": "...", "end": "..."},
    )

Actions are dotted `<thing>.<verb>` names: trail.read, position.read, export.read,
search.near, zone.save, alert.acknowledge, user.create, grant.create, retention.purge...
Reads of trails, exports and proximity searches must state a purpose with a non-empty text
(`PurposeRequired` otherwise, before anything is read or written).

Called inside `with store.transaction()`, the record commits or rolls back with that
transaction (a change and its audit record are one); otherwise it is its own transaction.
The log is append-only and hash-chained (tagwatch.store.audit_chain); `verify` walks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tagwatch.service.clock import Clock
from tagwatch.store.audit_chain import (
    AuditCheckpoint,
    AuditEntry,
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainReport,
)
from tagwatch.store.contract import Store

__all__ = [
    "PURPOSE_REQUIRED",
    "AuditContext",
    "AuditQuery",
    "AuditRecord",
    "AuditTrail",
    "Purpose",
    "PurposeCode",
    "PurposeRequired",
]

# Reads that take the most data about a person: a stated purpose is the law's safeguard.
PURPOSE_REQUIRED = frozenset({"trail.read", "export.read", "search.near"})

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_PURPOSE_TEXT = 2000


class PurposeCode(StrEnum):
    INVESTIGATION = "investigation"
    SAFEGUARDING = "safeguarding"
    COURT_EVIDENCE = "court_evidence"
    BREACH_RESPONSE = "breach_response"
    MONITORING = "monitoring"
    AUDIT_REVIEW = "audit_review"
    OTHER = "other"


class PurposeRequired(ValueError):  # noqa: N818 - the name the service layer already uses
    """A read that must state its purpose did not (or stated an empty one)."""


@dataclass(frozen=True)
class Purpose:
    """Why data is read: a reason code and free text (a case or incident reference)."""

    code: PurposeCode
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", PurposeCode(self.code))  # ValueError if unknown
        object.__setattr__(self, "text", self.text.strip())
        if len(self.text) > MAX_PURPOSE_TEXT:
            raise ValueError(f"a purpose text is at most {MAX_PURPOSE_TEXT} characters")


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where: `source` is the client's IP address, or "cli"/"monitor"."""

    username: str | None
    organisation_id: str | None
    source: str | None

    @classmethod
    def system(cls, source: str) -> AuditContext:
        """tagwatch itself acting (the monitor raising alerts, a scheduled purge)."""
        return cls(username=None, organisation_id=None, source=source)


class AuditTrail:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def record(
        self,
        ctx: AuditContext,
        action: str,
        *,
        subject_ids: Sequence[str] = (),
        purpose: Purpose | None = None,
        detail: Mapping[str, object] | None = None,
        at: datetime | None = None,
    ) -> AuditRecord:
        """Append one record to the chain. ValueError for a malformed action; PurposeRequired
        when `action` needs a purpose; TypeError if `detail` is not JSON-serialisable."""
        require_purpose(action, purpose)
        entry = AuditEntry(
            at=self._clock.now() if at is None else at,
            action=action,
            username=ctx.username,
            organisation_id=ctx.organisation_id,
            source=ctx.source,
            subject_ids=tuple(dict.fromkeys(subject_ids)),  # once each, in the given order
            purpose_code=None if purpose is None else purpose.code.value,
            purpose_text=None if purpose is None else purpose.text,
            detail=dict(detail or {}),
        )
        return self._store.audit.append(entry)

    def search(self, query: AuditQuery, *, after_seq: int = 0, limit: int = 100) -> AuditPage:
        """Records matching `query` in seq order, a page at a time."""
        return self._store.audit.search(query, after_seq=after_seq, limit=limit)

    def export(self, query: AuditQuery) -> Iterator[AuditRecord]:
        """Every record matching `query`, in seq order, read page by page."""
        after = 0
        while True:
            page = self._store.audit.search(query, after_seq=after, limit=1000)
            yield from page.records
            if page.next_after_seq is None:
                return
            after = page.next_after_seq

    def verify(self) -> ChainReport:
        return self._store.audit.verify()

    def checkpoint(self) -> AuditCheckpoint | None:
        return self._store.audit.checkpoint()


def validate_action(action: str) -> None:
    if not _ACTION.match(action):
        raise ValueError(
            f"an audit action is a dotted lower-case name like 'trail.read', not {action!r}"
        )


def require_purpose(action: str, purpose: Purpose | None) -> None:
    validate_action(action)
    if action in PURPOSE_REQUIRED and (purpose is None or not purpose.text):
        raise PurposeRequired(f"{action} needs a stated purpose: a reason code and a text")
