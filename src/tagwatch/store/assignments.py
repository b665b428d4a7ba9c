"""What ending an assignment means, the same in every store.

The stores find the current assignment and save the ended one with their own SQL; the
rule that an assignment is closed, not shortened to nothing, is kept here once.
"""

from __future__ import annotations

from datetime import datetime

from tagwatch.domain.people import Assignment


def ended_at(current: Assignment, at: datetime) -> Assignment:
    """`current` closed at `at`. Ending it the instant it starts would leave an empty span
    that covers no fix, so that is refused (ValueError) rather than saved."""
    if current.start == at:
        raise ValueError("an assignment cannot end at the instant it starts")
    return Assignment(current.device_id, current.subject_id, current.start, at)
