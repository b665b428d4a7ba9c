"""A day's plan as blocks (stays and moves), and the true track and sky they make.

The true track is piecewise linear between keyframes; the sky (open, urban, indoor,
underground) is piecewise constant; coverage gaps are intervals in which the tag cannot
upload and buffers instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from tagwatch.sim.model import TrueTrack

FloatArray = npt.NDArray[np.float64]

WALK_MPS = (1.2, 1.6)
BUS_MPS = (7.0, 11.0)
CAR_MPS = (11.0, 18.0)
WALK_UP_TO_M = 1500.0


class Sky(IntEnum):
    OPEN = 0
    URBAN = 1
    INDOOR = 2
    UNDERGROUND = 3  # basement, tunnel: no GPS and no mobile data
    OUTDOOR = 4  # planning only: open or urban depending on where it is


@dataclass(slots=True)
class Stay:
    x: float
    y: float
    t0: float
    t1: float
    sky: Sky
    r95_m: float  # the 95 % GPS error radius here (indoor building, or urban street)
    wander_m: float  # how far the person moves about while there
    place: int = -1  # index into Person.places, -1 for somewhere else
    basement_ok: bool = False  # may spend a while underground (shops, work)


@dataclass(slots=True)
class Move:
    path: FloatArray  # (k, 2) metres
    t0: float
    t1: float
    r95_m: float  # urban 95 % error along the way

    @property
    def speed(self) -> float:
        return path_length(self.path) / max(self.t1 - self.t0, 1e-9)


Block = Stay | Move


def path_length(path: FloatArray) -> float:
    return float(np.hypot(*np.diff(path, axis=0).T).sum())


def travel_speed(rng: np.random.Generator, length: float, has_car: bool) -> float:
    if length < WALK_UP_TO_M:
        return float(rng.uniform(*WALK_MPS))
    return float(rng.uniform(*(CAR_MPS if has_car else BUS_MPS)))


def urban_r95(rng: np.random.Generator) -> float:
    return float(rng.uniform(10.0, 30.0))


@dataclass(slots=True)
class Built:
    track: TrueTrack
    segment_speed: FloatArray  # per keyframe segment, m/s
    segment_heading: FloatArray  # degrees clockwise from grid north
    sky_t: FloatArray  # segment starts
    sky: npt.NDArray[np.int8]
    sky_r95: FloatArray
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no uplink


class _Keyframes:
    def __init__(self) -> None:
        self.t: list[FloatArray] = []
        self.x: list[FloatArray] = []
        self.y: list[FloatArray] = []

    def add(self, t: FloatArray, x: FloatArray, y: FloatArray) -> None:
        self.t.append(t)
        self.x.append(x)
        self.y.append(y)

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        t, x, y = np.concatenate(self.t), np.concatenate(self.x), np.concatenate(self.y)
        # Blocks meet end to end: drop the repeated meeting point, then nudge what is left
        # apart by microseconds so that np.interp sees strictly increasing times.
        repeat = np.zeros(t.shape, np.bool_)
        repeat[1:] = (t[1:] == t[:-1]) & (x[1:] == x[:-1]) & (y[1:] == y[:-1])
        t, x, y = t[~repeat], x[~repeat], y[~repeat]
        return t + np.arange(t.shape[0]) * 1e-6, x, y


def build_track(
    blocks: list[Block],
    rng: np.random.Generator,
    *,
    basement_rate: float,
    tunnel_rate: float,
) -> Built:
    keys = _Keyframes()
    sky_t: list[float] = []
    sky: list[int] = []
    sky_r95: list[float] = []
    gaps: list[tuple[float, float]] = []

    def set_sky(t: float, code: Sky, r95: float) -> None:
        sky_t.append(t)
        sky.append(int(code))
        sky_r95.append(r95)

    for block in blocks:
        if isinstance(block, Stay):
            # Moving about the place every 4-12 minutes, back at the door when leaving.
            steps = np.cumsum(rng.uniform(240.0, 720.0, int((block.t1 - block.t0) / 240.0) + 1))
            times = block.t0 + steps[steps < block.t1 - block.t0 - 60.0]
            if block.wander_m <= 0:
                times = times[:0]
            angle = rng.uniform(0, 2 * np.pi, times.shape[0])
            reach = block.wander_m * np.sqrt(rng.random(times.shape[0]))
            keys.add(
                np.concatenate([[block.t0], times, [block.t1]]),
                np.concatenate([[block.x], block.x + reach * np.cos(angle), [block.x]]),
                np.concatenate([[block.y], block.y + reach * np.sin(angle), [block.y]]),
            )
            set_sky(block.t0, block.sky, block.r95_m)
            duration = block.t1 - block.t0
            if block.sky is Sky.INDOOR and duration > 3600 and rng.random() < 0.25:
                # Stepping outside for a while (a smoke, the garden) improves the sky, not
                # the position.
                start = block.t0 + float(rng.uniform(0.1, 0.8)) * duration
                set_sky(start, Sky.OUTDOOR, urban_r95(rng))
                set_sky(start + float(rng.uniform(300.0, 1200.0)), block.sky, block.r95_m)
            elif block.basement_ok and duration > 2400 and rng.random() < basement_rate:
                length = min(float(rng.uniform(300.0, 2700.0)), duration - 1200.0)
                start = block.t0 + float(rng.uniform(600.0, duration - length - 600.0))
                set_sky(start, Sky.UNDERGROUND, 0.0)
                set_sky(start + length, block.sky, block.r95_m)
                gaps.append((start, start + length))
        else:
            lengths = np.hypot(*np.diff(block.path, axis=0).T)
            offsets = np.concatenate([[0.0], np.cumsum(lengths)])
            total = max(float(offsets[-1]), 1e-9)
            keys.add(
                block.t0 + (block.t1 - block.t0) * offsets / total,
                block.path[:, 0],
                block.path[:, 1],
            )
            set_sky(block.t0, Sky.OUTDOOR, block.r95_m)
            duration = block.t1 - block.t0
            if total > 3000 and block.speed > 5 and duration > 600 and rng.random() < tunnel_rate:
                length = float(rng.uniform(60.0, 240.0))
                start = block.t0 + float(rng.uniform(120.0, duration - length - 120.0))
                set_sky(start, Sky.UNDERGROUND, 0.0)
                set_sky(start + length, Sky.OUTDOOR, block.r95_m)
                gaps.append((start, start + length))

    t, x, y = keys.arrays()
    dt = np.diff(t)
    dx, dy = np.diff(x), np.diff(y)
    speed = np.hypot(dx, dy) / np.maximum(dt, 1e-3)
    heading = np.degrees(np.arctan2(dx, dy)) % 360.0
    order = np.argsort(np.array(sky_t), kind="stable")
    return Built(
        track=TrueTrack(t, x, y),
        segment_speed=np.append(speed, 0.0),
        segment_heading=np.append(heading, 0.0),
        sky_t=np.array(sky_t)[order],
        sky=np.array(sky, np.int8)[order],
        sky_r95=np.array(sky_r95)[order],
        gaps=gaps,
    )
