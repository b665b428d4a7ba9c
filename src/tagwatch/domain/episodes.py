"""What the engine concludes: violation episodes, approach warnings, attendance outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RuleKind(StrEnum):
    EXCLUSION = "exclusion"
    INCLUSION = "inclusion"
    CURFEW = "curfew"
    ATTENDANCE = "attendance"
    STRAP_TAMPER = "strap_tamper"
    CASE_TAMPER = "case_tamper"
    LOW_BATTERY = "low_battery"
    NO_GPS = "no_gps"
    NO_COMMS = "no_comms"
    GPS_JAMMING = "gps_jamming"


LOCATION_RULES = frozenset(
    {RuleKind.EXCLUSION, RuleKind.INCLUSION, RuleKind.CURFEW, RuleKind.ATTENDANCE}
)


def episode_id(device_id: str, rule: RuleKind, requirement_id: str, start: datetime) -> str:
    """Stable identity: the same violation found again (a re-run after late data) keeps it."""
    return f"{device_id}/{rule.value}/{requirement_id}/{start.isoformat()}"


@dataclass(frozen=True, slots=True)
class Episode:
    """One continuous violation, from its first evidence to its end.

    `evidence` holds the fix times (of `device_id`) that prove it, deepest first, at most a
    handful; `deepest_penetration_m` is how far beyond the boundary (in the violating
    direction) the deepest fix was. `end is None` while the episode is open.
    """

    id: str
    device_id: str
    subject_id: str
    rule: RuleKind
    requirement_id: str
    start: datetime
    end: datetime | None
    confirmed_at: datetime
    deepest_penetration_m: float
    confidence: float
    evidence: tuple[datetime, ...]

    @property
    def is_open(self) -> bool:
        return self.end is None


class EpisodeChange(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"  # deeper penetration, more evidence, or a re-run moved its start
    CLOSED = "closed"
    RETRACTED = "retracted"  # late data showed this episode did not happen as recorded


@dataclass(frozen=True, slots=True)
class EpisodeEvent:
    change: EpisodeChange
    episode: Episode
    detected_at: datetime
    late: bool
    replaces: tuple[str, ...] = ()  # ids of episodes this one supersedes after a re-run


@dataclass(frozen=True, slots=True)
class ApproachWarning:
    """A fix entered an exclusion zone's warning buffer (outside the zone itself)."""

    device_id: str
    subject_id: str
    zone_id: str
    fix_time: datetime
    distance_m: float  # to the zone boundary, outside
    detected_at: datetime
    late: bool


class AttendanceOutcomeKind(StrEnum):
    ATTENDED = "attended"
    MISSED = "missed"
    CUT_SHORT = "cut_short"


@dataclass(frozen=True, slots=True)
class AttendanceOutcome:
    appointment_id: str
    device_id: str
    subject_id: str
    outcome: AttendanceOutcomeKind
    arrived_at: datetime | None
    left_at: datetime | None
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class FixBeyondLateness:
    """A fix older than the allowed lateness: stored and flagged for review, not judged."""

    device_id: str
    fix_time: datetime
    detected_at: datetime


EngineEvent = EpisodeEvent | ApproachWarning | AttendanceOutcome | FixBeyondLateness
