"""What the engine checks for each monitored subject: the requirements in force.

The service layer builds a `RuleBook` from subjects, assignments and orders; the engine
compiles it once into arrays and keeps the compiled form between batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tagwatch.domain.zones import Appointment, Curfew, Zone

DEFAULT_CRS = "EPSG:27700"  # British National Grid: metres, accurate across Great Britain
# Let the engine pick: DEFAULT_CRS while every zone lies in its area of use, otherwise the
# UTM zone of the zones' centre (tagwatch.engine.projection.choose_crs).
AUTO_CRS = "auto"
DEFAULT_ALLOWED_LATENESS_S = 48 * 3600.0


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds of the device-health rules."""

    low_battery_pct: float = 20.0
    battery_recovered_pct: float = 30.0  # hysteresis: close only once clearly recharged
    no_gps_after_s: float = 15 * 60.0  # talking, but no valid position for this long
    no_comms_after_s: float = 30 * 60.0  # silent for this long


@dataclass(frozen=True, slots=True)
class SubjectRules:
    """Everything one subject must comply with, and the devices that report for them."""

    subject_id: str
    device_ids: tuple[str, ...]
    zones: tuple[Zone, ...] = ()
    curfews: tuple[Curfew, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    health: HealthPolicy = field(default_factory=HealthPolicy)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    crs: str = AUTO_CRS
    allowed_lateness_s: float = DEFAULT_ALLOWED_LATENESS_S
    # Consecutive confirmed fixes that open an episode. One confirmed fix can be a GPS
    # outlier whose accuracy the receiver under-reported; a second one rarely is.
    confirmations: int = 2
    # Or one confirmed fix with leaning-violating ones around it, this many fixes in all: a
    # short visit seen through wide fixes whose centres are all on the wrong side.
    supported_confirmation: int = 3
    # A single fix opens an episode at once when it lies beyond its own accuracy radius by
    # this much AND by this multiple of the radius: receivers under-report accuracy badly
    # indoors, so a wide fix must be far out to be believed alone.
    decisive_margin_m: float = 75.0
    decisive_accuracy_multiple: float = 6.0
    # A fix confirms a curfew absence only when it lies outside the curfew address by this
    # many of its own accuracy radii (other rules: one). The base rates differ: a subject
    # spends most of every curfew window at that address, often indoors where receivers are
    # worst and under-report their error, so hundreds of home fixes a night each get a
    # chance to look like an absence; an exclusion zone is rarely approached at all.
    curfew_confirm_radii: float = 2.0
    # A gap without evidence longer than this breaks a run of consecutive evidence.
    max_evidence_gap_s: float = 600.0
    # An episode whose opening evidence reached the engine this long after the fix time
    # is flagged late (the operator sees occurred_at well before detected_at).
    late_after_s: float = 300.0


@dataclass(frozen=True, slots=True)
class RuleBook:
    subjects: tuple[SubjectRules, ...]
    settings: EngineSettings = field(default_factory=EngineSettings)
