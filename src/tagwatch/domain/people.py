"""Subjects, their devices, and the orders that require monitoring them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

DEFAULT_TIME_ZONE = "Europe/London"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


class OrderType(StrEnum):
    """The legal basis for monitoring (see GLOSSARY.md)."""

    COURT_BAIL = "court_bail"
    HOME_DETENTION_CURFEW = "home_detention_curfew"
    COMMUNITY_ORDER = "community_order"
    SUSPENDED_SENTENCE_ORDER = "suspended_sentence_order"
    LICENCE = "licence"
    POST_SENTENCE_SUPERVISION = "post_sentence_supervision"
    DOMESTIC_ABUSE_PROTECTION_ORDER = "domestic_abuse_protection_order"


@dataclass(frozen=True, slots=True)
class Subject:
    """The person being monitored (the device wearer)."""

    id: str
    name: str
    risk_level: RiskLevel = RiskLevel.MEDIUM
    reference: str = ""  # e.g. a PNC or case number, opaque to tagwatch


class DeviceKind(StrEnum):
    TAG = "tag"  # fitted, usually on the ankle
    HOME_MONITORING_UNIT = "home_monitoring_unit"  # beacon at the curfew address
    CARRIED = "carried"  # non-fitted device (a phone app, a victim's device)


@dataclass(frozen=True, slots=True)
class Device:
    id: str  # the identifier the device reports itself with (IMEI, OsmAnd id, ...)
    kind: DeviceKind = DeviceKind.TAG
    protocol: str = "osmand"
    label: str = ""


@dataclass(frozen=True, slots=True)
class Assignment:
    """A device fitted to a subject over a time range; `end is None` means still fitted."""

    device_id: str
    subject_id: str
    start: datetime
    end: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


@dataclass(frozen=True, slots=True)
class Order:
    """The legal instrument. Its requirements (zones, curfews, attendance) refer to it by id."""

    id: str
    subject_id: str
    order_type: OrderType
    start: datetime
    end: datetime | None = None
    time_zone: str = DEFAULT_TIME_ZONE
    reference: str = ""  # the court's or prison's reference
    conditions: tuple[str, ...] = field(default=())

    def in_force(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)
