"""Legal holds: a subject's fixes in a time range that retention must keep.

A hold is placed when an alert is raised (the fixes behind its episode: evidence of a
breach) or by an evidence request (a police or court request, via the API). While it is
not released, the fixes of the devices assigned to the subject within [start, end] survive
every purge. `end` None holds up to whenever the hold is released.

An alert's hold follows its alert: it covers the alert's episode, ALERT_HOLD_MARGIN either
side (how the person came and went), also when late data moves the episode's start or the
alert follows a re-run episode; while the episode is open it reaches to the present. It is
released when retention purges the resolved alert, so the fixes behind an alert are kept as
long as the alert itself (TAGWATCH_RETAIN_ALERTS_DAYS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

ALERT_HOLD_MARGIN = timedelta(hours=1)


class HoldReason(StrEnum):
    ALERT = "alert"  # the fixes behind an alert's episode
    EVIDENCE_REQUEST = "evidence_request"  # asked for by police, a court, an investigator


@dataclass(frozen=True, slots=True)
class LegalHoldDraft:
    subject_id: str
    start: datetime
    end: datetime | None
    reason: HoldReason
    note: str = ""
    created_by: str | None = None
    alert_id: str | None = None  # set for HoldReason.ALERT: one hold per alert

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError("a hold must not end before it starts")


@dataclass(frozen=True, slots=True)
class LegalHold:
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


@dataclass(frozen=True, slots=True)
class FixSpan:
    """Fixes of one device with start <= fix_time <= end (end None: no upper bound)."""

    device_id: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class FixPurge:
    """What a fix purge did: whole months dropped, rows deleted from held months, rows kept."""

    removed: int
    months_dropped: int
    months_trimmed: int
    kept_by_holds: int
