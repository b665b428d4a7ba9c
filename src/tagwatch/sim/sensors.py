"""Device events: battery and charging, the strap, and the home monitoring unit's beacon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from tagwatch.domain.positions import DeviceEventKind
from tagwatch.sim.timetable import local_seconds
from tagwatch.sim.truth import STEP_S, Grid, runs

FloatArray = npt.NDArray[np.float64]
BEACON_RANGE_M = 30.0
BATTERY_STEP_S = 300.0
BATTERY_REPORT_S = 900.0
EMERGENCY_BELOW_PCT = 8.0  # the monitoring centre phones; the subject finds a charger


@dataclass(slots=True)
class EventLog:
    times: list[float] = field(default_factory=list)
    kinds: list[DeviceEventKind] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)

    def add(self, time: float, kind: DeviceEventKind, value: float | None = None) -> None:
        self.times.append(time)
        self.kinds.append(kind)
        self.values.append(value)

    def sorted(self) -> EventLog:
        order = sorted(range(len(self.times)), key=self.times.__getitem__)
        return EventLog(
            [self.times[i] for i in order],
            [self.kinds[i] for i in order],
            [self.values[i] for i in order],
        )


def at_home(grid: Grid, home: tuple[float, float]) -> npt.NDArray[np.bool_]:
    hx, hy = home
    return grid.where(lambda x, y: (x - hx) ** 2 + (y - hy) ** 2 <= BEACON_RANGE_M**2)


def beacon_events(
    home_mask: npt.NDArray[np.bool_], grid: Grid, rng: np.random.Generator
) -> EventLog:
    """The home unit reports the tag out of range after missing it for a while, and back in
    range soon after it returns; absences shorter than its patience go unreported."""
    log = EventLog()
    log.add(grid.t0 + float(rng.uniform(1.0, 30.0)), DeviceEventKind.BEACON_IN_RANGE)
    for a, b in runs(~home_mask):
        patience = float(rng.uniform(30.0, 90.0))
        if (b - a) * STEP_S <= patience:
            continue
        log.add(grid.time(a) + patience, DeviceEventKind.BEACON_OUT_OF_RANGE)
        if b < home_mask.shape[0]:
            log.add(grid.time(b) + float(rng.uniform(5.0, 30.0)), DeviceEventKind.BEACON_IN_RANGE)
    return log


def battery_events(
    home_mask: npt.NDArray[np.bool_],
    grid: Grid,
    days: list[date],
    rng: np.random.Generator,
    *,
    time_zone: str,
    drain_pct_per_h: float,
    skipped_charge_rate: float,
) -> EventLog:
    """Drain by day, charge in the evening at home (unless forgotten), emergency charge when
    nearly flat. BATTERY_LEVEL every 15 minutes, CHARGING_ON/OFF when it changes."""
    log = EventLog()
    sessions = []
    for day in days:
        if rng.random() < skipped_charge_rate:
            continue
        start = local_seconds(day, float(rng.uniform(20.5, 23.0)) * 3600.0, time_zone)
        sessions.append((start, start + float(rng.uniform(1.5, 3.0)) * 3600.0))
    charge_rate = float(rng.uniform(40.0, 60.0))
    level = float(rng.uniform(55.0, 95.0))
    charging = False
    emergency_at: float | None = None
    emergency = False
    steps = int(grid.seconds * STEP_S // BATTERY_STEP_S)
    per_report = int(BATTERY_REPORT_S // BATTERY_STEP_S)
    phase = int(rng.integers(per_report))
    session = 0
    hours = BATTERY_STEP_S / 3600.0
    charge_step = charge_rate * hours
    drain = drain_pct_per_h * hours * rng.uniform(0.8, 1.25, steps)  # busier hours drain more
    jitter = rng.uniform(0.0, 20.0, steps)
    home_at = home_mask[
        np.minimum(np.arange(steps) * int(BATTERY_STEP_S / STEP_S), home_mask.shape[0] - 1)
    ]
    for k in range(steps):
        now = grid.t0 + k * BATTERY_STEP_S
        home = bool(home_at[k])
        while session < len(sessions) and sessions[session][1] <= now:
            session += 1
        planned = session < len(sessions) and sessions[session][0] <= now
        if not charging:
            if emergency_at is None and level < EMERGENCY_BELOW_PCT:
                emergency_at = now + float(rng.uniform(20.0, 60.0)) * 60.0
            if (planned and home) or (emergency_at is not None and now >= emergency_at):
                charging, emergency, emergency_at = True, not (planned and home), None
                log.add(now + float(rng.uniform(0, 60)), DeviceEventKind.CHARGING_ON)
        elif (emergency and level >= 60.0) or (not emergency and (not planned or not home)):
            charging = False
            log.add(now + float(rng.uniform(0, 60)), DeviceEventKind.CHARGING_OFF)
        level = min(level + charge_step, 100.0) if charging else max(level - drain[k], 1.0)
        if k % per_report == phase:
            log.add(now + float(jitter[k]), DeviceEventKind.BATTERY_LEVEL, round(level))
    return log
