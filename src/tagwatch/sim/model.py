"""The simulator's public data: what to simulate, and what came out (with its ground truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.people import DEFAULT_TIME_ZONE, Assignment, Device, Order, Subject
from tagwatch.domain.positions import DeviceEvent, Fix
from tagwatch.domain.rules import RuleBook

FloatArray = npt.NDArray[np.float64]

# 2026-10-22 00:00 Europe/London (BST, UTC+1). Five days from here run Thursday to Monday and
# include Sunday 25 October 2026, when the clocks go back: a 25-hour day with a 13-hour
# 19:00-07:00 curfew the night before.
DEFAULT_START = datetime(2026, 10, 21, 23, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GpsErrorModel:
    """How wrong receivers are, and how honestly they say so (`sim/gps_error.py`).

    The defaults are the simulator's own model; the knobs let a benchmark ask how the engine
    copes with worse receivers than the ones its thresholds were tuned on.
    """

    scale: float = 1.0  # every true 95 % radius (open sky, town, indoors) times this
    tail_df: float = 3.0  # Student-t degrees of freedom off open sky: lower, wilder outliers
    max_error_per_r95: float = 6.0  # the largest error, in true 95 % radii
    correlation_s: float = 120.0  # how long an error persists from fix to fix
    accuracy_spread: float = 0.3  # sigma of the lognormal reported/true accuracy factor
    under_reported_rate: float = 0.02  # share of fixes whose accuracy is badly under-reported
    under_reported_factor: tuple[float, float] = (0.15, 0.4)  # ... by a factor in this range

    def __post_init__(self) -> None:
        if not self.scale > 0 or not self.max_error_per_r95 > 0:
            raise ValueError("GPS error scale and largest error must be positive")
        if not self.tail_df > 2.0:
            raise ValueError("tail_df must exceed 2 (a finite variance)")
        if not 0.0 <= self.under_reported_rate <= 1.0:
            raise ValueError("under_reported_rate is a share between 0 and 1")
        low, high = self.under_reported_factor
        if not 0.0 < low <= high:
            raise ValueError("under_reported_factor must be an ordered positive range")
        if self.correlation_s < 0 or self.accuracy_spread < 0:
            raise ValueError("correlation_s and accuracy_spread must not be negative")


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate. Rates are chances per subject-day among subjects with the requirement."""

    seed: int = 7
    subjects: int = 200
    days: int = 5
    start: datetime = DEFAULT_START  # a local midnight in `time_zone`, as an aware instant
    interval_s: float = 60.0
    time_zone: str = DEFAULT_TIME_ZONE
    # Who has which requirement.
    curfew_share: float = 0.85
    beacon_share: float = 0.30  # of all subjects; only subjects with a curfew get one
    exclusion_share: float = 0.92
    second_exclusion_share: float = 0.35
    inclusion_share: float = 0.20
    # Injected violations (ground truth).
    exclusion_entry_rate: float = 0.10
    curfew_absence_rate: float = 0.05
    late_home_rate: float = 0.04
    inclusion_exit_rate: float = 0.06
    strap_tamper_rate: float = 0.015
    # Injected near misses (compliant, but close).
    exclusion_near_miss_rate: float = 0.10
    curfew_near_miss_rate: float = 0.06
    # Coverage and device behaviour.
    dead_spot_rate: float = 0.25  # GPS fine, no mobile data: the tag buffers
    basement_rate: float = 0.15  # per indoor stay away from home: no GPS and no data
    tunnel_rate: float = 0.10  # per vehicle trip over 3 km
    duplicate_rate: float = 0.003
    skipped_charge_rate: float = 0.08
    gps_error: GpsErrorModel = field(default_factory=GpsErrorModel)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("scenario start must be time-zone aware")
        if self.subjects < 1 or self.days < 1:
            raise ValueError("a scenario needs at least one subject and one day")
        if not 1.0 <= self.interval_s <= 3600.0:
            raise ValueError("the reporting interval must be between 1 s and 1 h")

    @property
    def subject_days(self) -> float:
        return float(self.subjects * self.days)


@dataclass(frozen=True, slots=True)
class TruthViolation:
    """What the person really did: true position across the boundary from `start` to `end`."""

    subject_id: str
    device_id: str
    rule: RuleKind
    requirement_id: str
    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Compliant but close: an alert here is a false alert.

    `closest_m` is the smallest true distance to the boundary, on the compliant side, while
    the requirement applied. For an exclusion zone that is the closest pass outside it; for a
    curfew met with minutes to spare, how far inside the address the subject was when the
    curfew began (or ended, for leaving just after it). `time` is the closest pass, or the
    moment the subject crossed the curfew address boundary.
    """

    subject_id: str
    device_id: str
    rule: RuleKind
    requirement_id: str
    time: datetime
    closest_m: float


@dataclass(frozen=True, slots=True)
class Injection:
    """A planned deviation from the routine, for checking that truth comes only from these."""

    subject_id: str
    device_id: str
    kind: str  # exclusion_entry, curfew_absence, late_home, inclusion_exit, strap_tamper, ...
    requirement_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class TrueTrack:
    """Where a device really was: keyframes in British National Grid metres, linear between.

    `t` is seconds since the Unix epoch, strictly increasing.
    """

    t: FloatArray
    x: FloatArray
    y: FloatArray

    def xy_at(self, times: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        at = np.asarray(times, dtype=np.float64)
        return np.interp(at, self.t, self.x), np.interp(at, self.t, self.y)


@dataclass(frozen=True, slots=True)
class FixTruth:
    """Per fix, aligned with `Simulation.fixes`: the true position and the sky it was under."""

    true_x: FloatArray  # British National Grid metres
    true_y: FloatArray
    error_m: FloatArray  # distance between reported and true position (0 for invalid fixes)
    sky: npt.NDArray[np.int8]  # gps_error.Sky


@dataclass
class Simulation:
    scenario: Scenario
    subjects: list[Subject]
    devices: list[Device]
    assignments: list[Assignment]
    orders: list[Order]
    rule_book: RuleBook
    fixes: list[Fix]  # arrival order: sorted by received_at, ties in generation order
    device_events: list[DeviceEvent]  # arrival order
    truth: list[TruthViolation]
    near_misses: list[NearMiss]
    end: datetime  # the local midnight after the last day
    tracks: dict[str, TrueTrack] = field(default_factory=dict)  # by tag device id
    fix_truth: FixTruth | None = None
    injections: list[Injection] = field(default_factory=list)

    @property
    def subject_days(self) -> float:
        return self.scenario.subject_days
