"""A seeded scene for the engine benchmark: subjects, their zones, and where their fixes fall.

Every subject lives around a real Hertfordshire town and has three zones 0.3-2 km from home:
exclusion circles (100-500 m) and irregular star-shaped polygons (20-200 vertices), and for a
third of the subjects one large "stay within the district" inclusion polygon instead of the
third exclusion zone. Half of the zones carry a schedule.

Fixes are placed the way the simulator's population places them: most kilometres from every
zone boundary, about 5 % within 100 m of one on the compliant side (approaching an exclusion
zone, or near the edge of the inclusion zone), about 1 % inside an exclusion zone. A subject
keeps its situation from one minute to the next with probability `KEEP`, otherwise it draws a
new one, so the shares hold in every round.

Every zone is star-shaped about its centre (polar vertices in ascending angle), so one ray
from the centre crosses its boundary exactly once: a point on the ray `s` metres beyond the
crossing is outside and at most `s` from the boundary, one short of it inside. That is what
lets all placement be numpy over arrays, with no per-fix Python and no GEOS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from tagwatch.domain.rules import RuleBook, SubjectRules
from tagwatch.domain.schedules import Schedule, WeeklyWindow
from tagwatch.domain.zones import Area, Circle, Zone, ZoneKind
from tagwatch.sim.places import TownMap, to_wgs84

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ZONES_PER_SUBJECT = 3
# A Tuesday at noon in November (GMT: local time is UTC), far from both clock changes, so
# about half of the scheduled zones are active (weekday and daytime ones) and half not.
START = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
ROUND_MS = 60_000

NEAR_SHARE = 0.05
INSIDE_SHARE = 0.01
KEEP = 0.8  # a subject's situation persists from one minute to the next with this probability
NEAR_BAND_M = 100.0
FAR_CLEARANCE_M = 1000.0  # a far fix is at least this far from every zone boundary
FAR_JITTER_M = 20.0  # a far fix wanders about its spot by this much (standard deviation)
FAR_RADIUS_M = 6000.0  # far fixes lie within this of home
ZONE_GAP_M = 300.0  # between two zones of one subject, and between home and its zones

SCHEDULES: tuple[Schedule, ...] = (
    Schedule.every_day(time(19), time(7)),  # a night-time exclusion (inactive at START)
    Schedule.weekly(tuple(WeeklyWindow(day, time(9), time(17)) for day in range(5))),
    Schedule.every_day(time(7), time(22)),  # daytime, every day (active at START)
    Schedule.weekly(tuple(WeeklyWindow(day, time(0), time(0)) for day in (5, 6))),  # weekends
)


class Situation(IntEnum):
    FAR = 0  # kilometres from every zone boundary
    NEAR = 1  # within NEAR_BAND_M of one zone's boundary, on its compliant side
    INSIDE = 2  # inside one of the subject's exclusion zones


@dataclass(frozen=True, slots=True)
class ZoneTable:
    """Every zone in grid metres, indexed [subject, zone] (flat index subject * 3 + zone).

    A zone's boundary is a radial function about (cx, cy): a circle has `radius`; a polygon
    has the polar vertices angle[start:end], rho[start:end], angles ascending from exactly 0.
    """

    circle: BoolArray  # (n, 3)
    exclusion: BoolArray  # (n, 3)
    cx: FloatArray  # (n, 3)
    cy: FloatArray
    radius: FloatArray  # circle radius; NaN for polygons
    bound: FloatArray  # largest distance from the centre to the boundary
    inner: FloatArray  # a lower bound of the distance from the centre to the boundary
    start: IntArray  # (n * 3,) CSR offsets into angle/rho; empty ranges for circles
    end: IntArray
    angle: FloatArray
    rho: FloatArray

    def boundary_distance(self, flat: IntArray, theta: FloatArray) -> FloatArray:
        """Distance from the centre of zone `flat` to its boundary along direction `theta`."""
        out = self.radius.reshape(-1)[flat].copy()
        polygon = np.flatnonzero(~self.circle.reshape(-1)[flat])
        if polygon.size:
            zone, t = flat[polygon], theta[polygon]
            # Keys zone * 8 + angle are globally ascending (angles lie in [0, 2 pi) < 8).
            keys = np.repeat(np.arange(self.start.shape[0]) * 8.0, self.end - self.start)
            i = np.searchsorted(keys + self.angle, zone * 8.0 + t, side="right") - 1
            last = i + 1 == self.end[zone]
            j = np.where(last, self.start[zone], i + 1)
            a0, r0 = self.angle[i], self.rho[i]
            a1, r1 = np.where(last, 2 * np.pi, self.angle[j]), self.rho[j]
            # The ray at t meets the edge between (r0, a0) and (r1, a1) at this distance.
            out[polygon] = (r0 * r1 * np.sin(a1 - a0)) / (r0 * np.sin(t - a0) + r1 * np.sin(a1 - t))
        return out

    def ring(self, flat: int) -> FloatArray:
        """A polygon zone's exterior ring in grid metres, closed, counter-clockwise."""
        s, e = int(self.start[flat]), int(self.end[flat])
        cx, cy = self.cx.reshape(-1)[flat], self.cy.reshape(-1)[flat]
        angle, rho = self.angle[s:e], self.rho[s:e]
        xy = np.column_stack((cx + rho * np.cos(angle), cy + rho * np.sin(angle)))
        return np.vstack((xy, xy[:1]))


@dataclass(frozen=True, slots=True)
class Scene:
    book: RuleBook
    home_x: FloatArray
    home_y: FloatArray
    zones: ZoneTable
    seed: int

    @property
    def subjects(self) -> int:
        return int(self.home_x.shape[0])


@dataclass(frozen=True, slots=True)
class Track:
    """One fix per subject per minute; arrays indexed [round, subject]."""

    time_ms: IntArray  # (rounds,)
    x: FloatArray  # grid metres, where the fix was placed
    y: FloatArray
    lon: FloatArray
    lat: FloatArray
    accuracy_m: FloatArray
    situation: npt.NDArray[np.int8]
    target: IntArray  # the zone (0-2) a NEAR or INSIDE fix was placed against; -1 if FAR

    @property
    def rounds(self) -> int:
        return int(self.time_ms.shape[0])


def make_scene(subjects: int, seed: int = 0) -> Scene:
    """`subjects` subjects with one tag and three zones each; the same seed, the same scene."""
    rng = np.random.default_rng([seed, 1])
    n, k = subjects, ZONES_PER_SUBJECT
    towns = TownMap.hertfordshire()
    town = rng.choice(len(towns.towns), size=n, p=towns.weights)
    home_x = towns.x[town] + rng.normal(0.0, 1.0, n) * towns.urban_radius_m[town]
    home_y = towns.y[town] + rng.normal(0.0, 1.0, n) * towns.urban_radius_m[town]

    district = np.zeros((n, k), np.bool_)
    district[:, 2] = rng.random(n) < 1 / 3
    circle = (rng.random((n, k)) < 0.5) & ~district
    vertices = np.where(circle, 0, rng.integers(20, 201, (n, k)))
    size = np.where(circle, rng.uniform(100.0, 500.0, (n, k)), rng.uniform(150.0, 600.0, (n, k)))
    size = np.where(district, rng.uniform(12_000.0, 20_000.0, (n, k)), size)
    end = np.cumsum(vertices.reshape(-1))
    start = end - vertices.reshape(-1)
    angle, rho = _star_profiles(rng, vertices.reshape(-1), size.reshape(-1))
    bound_flat = np.where(circle, size, 0.0).reshape(-1)
    inner_flat = bound_flat.copy()
    polygons = np.flatnonzero(~circle.reshape(-1))
    if polygons.size:
        bound_flat[polygons] = np.maximum.reduceat(rho, start[polygons])
        # An edge dips below its vertices towards the centre by at most cos(half its angle).
        following = np.append(angle[1:], 0.0)
        following[end[polygons] - 1] = 2 * np.pi
        widest = np.maximum.reduceat(following - angle, start[polygons])
        inner_flat[polygons] = np.minimum.reduceat(rho, start[polygons]) * np.cos(widest / 2)
    bound, inner = bound_flat.reshape(n, k), inner_flat.reshape(n, k)

    cx, cy = _place_centres(rng, home_x, home_y, bound, district)
    table = ZoneTable(
        circle=circle,
        exclusion=~district,
        cx=cx,
        cy=cy,
        radius=np.where(circle, size, np.nan),
        bound=bound,
        inner=inner,
        start=start,
        end=end,
        angle=angle,
        rho=rho,
    )
    scheduled = rng.random((n, k)) < 0.5
    which = rng.integers(0, len(SCHEDULES), (n, k))
    warning = np.where(rng.random((n, k)) < 0.5, 100.0, 0.0)
    book = RuleBook(tuple(_subject_rules(table, scheduled, which, warning)))
    return Scene(book, home_x, home_y, table, seed)


def make_track(scene: Scene, rounds: int) -> Track:
    """Where each subject's fix falls in each of `rounds` successive minutes from START."""
    rng = np.random.default_rng([scene.seed, 2])
    n, zones = scene.subjects, scene.zones
    anchor_x, anchor_y = _far_anchors(rng, scene)
    exclusions = zones.exclusion.sum(axis=1)
    shape = (rounds, n)
    situation = np.zeros(shape, np.int8)
    target = np.full(shape, -1, np.int64)
    theta = np.zeros(shape)
    for r in range(rounds):
        fresh = np.ones(n, np.bool_) if r == 0 else rng.random(n) >= KEEP
        if r:
            situation[r], target[r], theta[r] = situation[r - 1], target[r - 1], theta[r - 1]
        draw = rng.random(n)
        new = np.where(
            draw < INSIDE_SHARE,
            Situation.INSIDE,
            np.where(draw < INSIDE_SHARE + NEAR_SHARE, Situation.NEAR, Situation.FAR),
        )
        # INSIDE picks among the exclusion zones, which come first in every subject's three.
        pick = np.where(
            new == Situation.INSIDE,
            (rng.random(n) * exclusions).astype(np.int64),
            rng.integers(0, ZONES_PER_SUBJECT, n),
        )
        situation[r] = np.where(fresh, new, situation[r])
        target[r] = np.where(fresh, np.where(new == Situation.FAR, -1, pick), target[r])
        theta[r] = np.where(fresh, rng.uniform(0.0, 2 * np.pi, n), theta[r])

    subject = np.broadcast_to(np.arange(n), shape)
    flat = subject * ZONES_PER_SUBJECT + np.maximum(target, 0)
    reach = zones.boundary_distance(flat.reshape(-1), theta.reshape(-1)).reshape(shape)
    exclusion = zones.exclusion.reshape(-1)[flat]
    # NEAR: 0-100 m out of an exclusion zone, or 0-100 m in from an inclusion zone's edge.
    band = rng.uniform(0.0, NEAR_BAND_M, shape)
    distance = np.where(exclusion, reach + band, reach - band)
    inside = situation == Situation.INSIDE
    distance[inside] = reach[inside] * rng.uniform(0.05, 0.95, int(inside.sum()))
    x = zones.cx.reshape(-1)[flat] + distance * np.cos(theta)
    y = zones.cy.reshape(-1)[flat] + distance * np.sin(theta)
    far = situation == Situation.FAR
    x[far] = (anchor_x + rng.normal(0.0, FAR_JITTER_M, shape))[far]
    y[far] = (anchor_y + rng.normal(0.0, FAR_JITTER_M, shape))[far]
    lon, lat = to_wgs84(x.reshape(-1), y.reshape(-1))
    return Track(
        time_ms=round(START.timestamp() * 1000) + np.arange(rounds, dtype=np.int64) * ROUND_MS,
        x=x,
        y=y,
        lon=lon.reshape(shape),
        lat=lat.reshape(shape),
        accuracy_m=np.exp(rng.uniform(np.log(5.0), np.log(60.0), shape)),
        situation=situation,
        target=target,
    )


def _star_profiles(
    rng: np.random.Generator, vertices: IntArray, size: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Polar vertices of irregular star-shaped rings: a few smooth lobes and a little jitter.

    Angles start at exactly 0 and ascend; gaps stay well under pi, so every ring is simple
    and star-shaped about its centre.
    """
    total = int(vertices.sum())
    owner = np.repeat(np.arange(vertices.shape[0]), vertices)
    step = np.arange(total) - np.repeat(np.cumsum(vertices) - vertices, vertices)
    count = vertices[owner].astype(np.float64)
    jitter = np.where(step == 0, 0.0, rng.uniform(-0.3, 0.3, total))
    angle = 2 * np.pi * (step + jitter) / count
    lobes = np.ones(total)
    for harmonic in (2, 3, 5):
        amplitude = rng.uniform(0.0, 0.1, vertices.shape)[owner]
        phase = rng.uniform(0.0, 2 * np.pi, vertices.shape)[owner]
        lobes += amplitude * np.cos(harmonic * angle + phase)
    rho = size[owner] * (lobes + rng.uniform(-0.04, 0.04, total))
    return angle, rho


def _place_centres(
    rng: np.random.Generator,
    home_x: FloatArray,
    home_y: FloatArray,
    bound: FloatArray,
    district: BoolArray,
) -> tuple[FloatArray, FloatArray]:
    """Zone centres 0.3-2 km from home, clear of home and of each other by ZONE_GAP_M.

    The large district zones surround everything, so only the small zones need clearance;
    subjects whose draw fails are drawn again until none does.
    """
    n, k = bound.shape
    cx, cy = np.empty((n, k)), np.empty((n, k))
    todo = np.arange(n)
    while todo.size:
        m = todo.size
        distance = rng.uniform(300.0, 2000.0, (m, k))
        small = ~district[todo]
        # A small zone's centre is far enough out that home stays clear of it.
        distance = np.where(small, np.maximum(distance, bound[todo] + ZONE_GAP_M), distance)
        direction = rng.uniform(0.0, 2 * np.pi, (m, k))
        x = home_x[todo, None] + distance * np.cos(direction)
        y = home_y[todo, None] + distance * np.sin(direction)
        ok = np.ones(m, np.bool_)
        for a in range(k):
            for b in range(a + 1, k):
                gap = np.hypot(x[:, a] - x[:, b], y[:, a] - y[:, b])
                need = bound[todo, a] + bound[todo, b] + ZONE_GAP_M
                ok &= ~(small[:, a] & small[:, b]) | (gap >= need)
        cx[todo[ok]], cy[todo[ok]] = x[ok], y[ok]
        todo = todo[~ok]
    return cx, cy


def _far_anchors(rng: np.random.Generator, scene: Scene) -> tuple[FloatArray, FloatArray]:
    """A spot within FAR_RADIUS_M of home, FAR_CLEARANCE_M from every zone, per subject."""
    zones = scene.zones
    n = scene.subjects
    ax, ay = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while todo.size:
        m = todo.size
        distance = FAR_RADIUS_M * np.sqrt(rng.random(m))
        direction = rng.uniform(0.0, 2 * np.pi, m)
        x = scene.home_x[todo] + distance * np.cos(direction)
        y = scene.home_y[todo] + distance * np.sin(direction)
        gap = np.hypot(x[:, None] - zones.cx[todo], y[:, None] - zones.cy[todo])
        # Outside each exclusion zone's bounding disc, inside each district zone's inner disc.
        clear = np.where(
            zones.exclusion[todo],
            gap >= zones.bound[todo] + FAR_CLEARANCE_M + 5 * FAR_JITTER_M,
            gap <= zones.inner[todo] - FAR_CLEARANCE_M - 5 * FAR_JITTER_M,
        ).all(axis=1)
        ax[todo[clear]], ay[todo[clear]] = x[clear], y[clear]
        todo = todo[~clear]
    return ax, ay


def _subject_rules(
    table: ZoneTable, scheduled: BoolArray, which: IntArray, warning: FloatArray
) -> list[SubjectRules]:
    n, k = table.circle.shape
    centre_lon, centre_lat = to_wgs84(table.cx.reshape(-1), table.cy.reshape(-1))
    # Every polygon vertex goes through one projection call; rings are then sliced out of it.
    ring_lon, ring_lat = to_wgs84(
        np.repeat(table.cx.reshape(-1), table.end - table.start) + table.rho * np.cos(table.angle),
        np.repeat(table.cy.reshape(-1), table.end - table.start) + table.rho * np.sin(table.angle),
    )
    ring_lon, ring_lat = ring_lon.round(7).tolist(), ring_lat.round(7).tolist()
    subjects: list[SubjectRules] = []
    for i in range(n):
        subject_id = f"s{i:06d}"
        zones: list[Zone] = []
        for j in range(k):
            flat = i * k + j
            shape: Circle | Area
            if table.circle[i, j]:
                lon, lat = round(float(centre_lon[flat]), 7), round(float(centre_lat[flat]), 7)
                shape = Circle(lon, lat, float(table.radius[i, j]))
            else:
                s, e = int(table.start[flat]), int(table.end[flat])
                ring = tuple(zip(ring_lon[s:e], ring_lat[s:e], strict=True))
                shape = Area(((ring + ring[:1],),))
            exclusion = bool(table.exclusion[i, j])
            zones.append(
                Zone(
                    f"{subject_id}-z{j}",
                    subject_id,
                    ZoneKind.EXCLUSION if exclusion else ZoneKind.INCLUSION,
                    shape,
                    warning_buffer_m=float(warning[i, j]) if exclusion else 0.0,
                    schedule=SCHEDULES[which[i, j]] if scheduled[i, j] else Schedule(),
                )
            )
        subjects.append(SubjectRules(subject_id, (f"d{i:06d}",), zones=tuple(zones)))
    return subjects
