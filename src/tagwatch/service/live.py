"""The live feed as one principal may see it: bus messages filtered by subject scope.

The bus (tagwatch.service.bus) carries every subject's alerts and positions; a subscriber
gets only the messages about subjects it may read now:

- `position` messages need read_live on the message's subject; a device fitted to nobody
  (subject_id null) is seen only with national reach;
- `alert` and `attendance` messages need read_records on the subject;
- `gap` markers (the subscriber fell behind) always pass: they carry no data;
- any other message type passes only with national reach (a new kind of message is
  withheld from scoped users until somebody decides who may see it).

The scope (managed and shared subjects) is re-read every `refresh_s` seconds, so a grant
that expires or is revoked stops the flow within that time on a long-lived stream.
Subscribing is audited (stream.subscribe): the feed carries live positions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tagwatch.service.access import AccessPolicy, Principal, Scope, SubjectAction
from tagwatch.service.audit import AuditTrail
from tagwatch.service.auth import PermissionDenied

DEFAULT_REFRESH_S = 30.0

_ACTION_OF_TYPE = {
    "position": SubjectAction.READ_LIVE,
    "alert": SubjectAction.READ_RECORDS,
    "attendance": SubjectAction.READ_RECORDS,
}


def message_subject(message: dict[str, Any]) -> str | None:
    subject = message.get("subject_id")
    if subject is None and isinstance(message.get("alert"), dict):
        subject = message["alert"].get("subject_id")
    return subject if isinstance(subject, str) else None


class FeedFilter:
    """Decides, message by message, what one principal's live feed carries."""

    def __init__(
        self,
        access: AccessPolicy,
        principal: Principal,
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self.principal = principal
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._scope: Scope | None = None
        self._read_at = 0.0
        self._allowed: dict[SubjectAction, frozenset[str] | None] = {}

    def _subjects(self, action: SubjectAction) -> frozenset[str] | None:
        now = self._monotonic()
        if self._scope is None or now - self._read_at >= self._refresh_s:
            self._scope = self._access.scope(self.principal)
            self._read_at = now
            self._allowed = {}
        if action not in self._allowed:
            try:
                self._allowed[action] = self._scope.subject_filter(action)
            except PermissionDenied:
                self._allowed[action] = frozenset()
        return self._allowed[action]

    def allows(self, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind == "gap":
            return True
        action = _ACTION_OF_TYPE.get(str(kind))
        if action is None:
            return self.principal.national and self.principal.may_ever(SubjectAction.READ_RECORDS)
        allowed = self._subjects(action)
        subject = message_subject(message)
        if allowed is None:
            return self.principal.may_ever(action)
        return subject is not None and subject in allowed


def open_feed(access: AccessPolicy, audit: AuditTrail, principal: Principal) -> FeedFilter:
    """A filter for a new subscriber, after recording the subscription.

    PermissionDenied if the role may see nothing live (an auditor).
    """
    if not principal.may_ever(SubjectAction.READ_LIVE):
        raise PermissionDenied(f"a {principal.role.value} does not see the live feed")
    audit.record(principal.audit_context, "stream.subscribe")
    return FeedFilter(access, principal)
