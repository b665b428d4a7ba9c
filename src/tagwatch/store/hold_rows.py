"""Legal holds as rows of `legal_holds`, read the same in every store.

Both stores list the same columns in the same order; only instants differ (SQLite:
microseconds as integers, PostgreSQL: timestamptz), so the decoder takes the store's own
conversion. An open end and an unreleased hold are NULL in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tagwatch.store.holds import HoldReason, LegalHold


def hold_from_row(r: Sequence[Any], instant: Callable[[Any], datetime]) -> LegalHold:
    """id, subject_id, start, end, reason, note, created_by, alert_id, created_at,
    released_at; `instant` reads a time back."""
    return LegalHold(
        id=r[0],
        subject_id=r[1],
        start=instant(r[2]),
        end=None if r[3] is None else instant(r[3]),
        reason=HoldReason(r[4]),
        note=r[5],
        created_by=r[6],
        alert_id=r[7],
        created_at=instant(r[8]),
        released_at=None if r[9] is None else instant(r[9]),
    )
