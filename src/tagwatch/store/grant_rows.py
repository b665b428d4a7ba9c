"""Sharing grants as rows of `sharing_grants`, read the same in every store.

Both stores list the same columns in the same order; only instants differ (SQLite:
microseconds as integers, PostgreSQL: timestamptz), so the decoder takes the store's own
conversion. A grant not revoked has NULL `revoked_at` in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.store.records import SharingGrant


def grant_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> SharingGrant:
    """id, subject_id, grantee_organisation_id, granted_by, valid_from, valid_until, reason,
    created_at, revoked_at; `instant` reads a time back."""
    return SharingGrant(
        id=r[0],
        subject_id=r[1],
        grantee_organisation_id=r[2],
        granted_by=r[3],
        valid_from=instant(r[4]),
        valid_until=instant(r[5]),
        reason=r[6],
        created_at=instant(r[7]),
        revoked_at=None if r[8] is None else instant(r[8]),
    )
