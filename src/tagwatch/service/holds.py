"""Evidence requests: legal holds placed, listed and released by people, scoped and audited.

Who may do what (tagwatch.service.access):

- place a hold on a subject: whoever may read that subject's history (read_history: the
  police, probation, the monitoring centre, admins, within their reach), stating a purpose;
- see holds: whoever may read the subject's records;
- release a hold: whoever may manage the subject's case (manage_case), or the person who
  placed it. An alert's own hold is the system's: it lapses with the alert (store.holds).

Each is audited: hold.create (with the purpose), hold.release.
"""

from __future__ import annotations

from datetime import datetime

from tagwatch.service.access import AccessPolicy, Principal, SubjectAction
from tagwatch.service.audit import AuditTrail, Purpose, PurposeRequired
from tagwatch.service.auth import PermissionDenied
from tagwatch.service.clock import Clock
from tagwatch.store.contract import Store
from tagwatch.store.errors import MissingReferenceError, NotFoundError
from tagwatch.store.holds import HoldReason, LegalHold, LegalHoldDraft

MAX_NOTE = 2000


class LegalHolds:
    def __init__(self, store: Store, clock: Clock, audit: AuditTrail, principal: Principal) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._principal = principal
        self._access = AccessPolicy(store, clock)

    def place(
        self,
        subject_id: str,
        *,
        start: datetime,
        end: datetime | None,
        purpose: Purpose | None,
        note: str = "",
    ) -> LegalHold:
        """Keep the subject's fixes in [start, end] through purges (end None: until released)."""
        if purpose is None or not purpose.text:
            raise PurposeRequired(
                "an evidence hold needs a stated purpose: a reason code and a text"
            )
        if len(note) > MAX_NOTE:
            raise ValueError(f"a hold's note is at most {MAX_NOTE} characters")
        try:  # out of reach reads as missing: a new record naming it is a 422, as elsewhere
            self._access.require(self._principal, SubjectAction.READ_HISTORY, subject_id)
        except NotFoundError:
            raise MissingReferenceError(f"no subject {subject_id!r}") from None
        if self._store.subjects.get_subject(subject_id) is None:
            raise MissingReferenceError(f"no subject {subject_id!r}")
        draft = LegalHoldDraft(
            subject_id=subject_id,
            start=start,
            end=end,
            reason=HoldReason.EVIDENCE_REQUEST,
            note=note or purpose.text,
            created_by=self._principal.username,
        )
        now = self._clock.now()
        with self._store.transaction() as tx:
            hold = tx.holds.create_hold(draft, now=now)
            self._audit.record(
                self._principal.audit_context,
                "hold.create",
                subject_ids=[subject_id],
                purpose=purpose,
                detail={"hold_id": hold.id, "start": start.isoformat(), "end": _iso(end)},
                at=now,
            )
        return hold

    def list(self, *, subject_id: str | None = None) -> list[LegalHold]:
        """Holds (active and released) of the subjects the principal may read; 403 for a
        role that reads no subject's records."""
        if subject_id is not None:
            self._access.require(self._principal, SubjectAction.READ_RECORDS, subject_id)
            return self._store.holds.list_holds(subject_id=subject_id)
        allowed = self._access.scope(self._principal).subject_filter(SubjectAction.READ_RECORDS)
        holds = self._store.holds.list_holds()
        return [hold for hold in holds if allowed is None or hold.subject_id in allowed]

    def get(self, hold_id: str) -> LegalHold:
        hold = self._store.holds.get_hold(hold_id)
        if hold is None:
            raise NotFoundError(f"no legal hold {hold_id!r}")
        self._access.require_record(
            self._principal, SubjectAction.READ_RECORDS, hold.subject_id, "legal hold", hold_id
        )
        return hold

    def release(self, hold_id: str) -> LegalHold:
        hold = self.get(hold_id)
        if hold.reason is HoldReason.ALERT:
            raise PermissionDenied("an alert's hold lapses with the alert; it is not released")
        if hold.created_by != self._principal.username:
            self._access.require_record(
                self._principal, SubjectAction.MANAGE_CASE, hold.subject_id, "legal hold", hold_id
            )
        now = self._clock.now()
        with self._store.transaction() as tx:
            released = tx.holds.release_hold(hold_id, at=now)
            self._audit.record(
                self._principal.audit_context,
                "hold.release",
                subject_ids=[hold.subject_id],
                detail={"hold_id": hold_id},
                at=now,
            )
        return released


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
