"""What a tag's receiver reports, given where it really is and under what sky.

Errors are 95 % radii: about 5 m under open sky, 10-30 m in town (Student-t, heavy-tailed:
multipath throws the odd fix far off), 30-100 m indoors with dropouts. Errors are correlated
from fix to fix over a couple of minutes, as receiver errors are. The reported accuracy is
the true 95 % radius times a lognormal factor, occasionally badly under-reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tagwatch.sim.model import GpsErrorModel
from tagwatch.sim.places import TownMap
from tagwatch.sim.track import Built, Sky

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# |e| = s * sqrt(2 F(2, df)) for a 2-D Student-t of scale s: the 95 % radius is s times this.
R95_PER_SCALE_GAUSS = 2.4477  # sqrt(-2 ln 0.05)

# Per sky: chance a fix is missing altogether, chance it is sent invalid (no position).
MISSING = {Sky.OPEN: 0.003, Sky.URBAN: 0.02, Sky.INDOOR: 0.10, Sky.UNDERGROUND: 0.30}
INVALID = {Sky.OPEN: 0.002, Sky.URBAN: 0.02, Sky.INDOOR: 0.12, Sky.UNDERGROUND: 1.0}
SATELLITES = {Sky.OPEN: (9, 15), Sky.URBAN: (5, 12), Sky.INDOOR: (4, 8), Sky.UNDERGROUND: (0, 1)}


@dataclass(frozen=True, slots=True)
class Observed:
    """Samples of one device, after dropping the missing ones."""

    t: npt.NDArray[np.int64]  # fix time, epoch seconds
    true_x: FloatArray
    true_y: FloatArray
    x: FloatArray  # reported, metres (invalid fixes repeat the last valid one)
    y: FloatArray
    valid: BoolArray
    sky: npt.NDArray[np.int8]
    accuracy_m: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray
    satellites: npt.NDArray[np.int64]
    hdop: FloatArray


def r95_per_scale_t(df: float) -> float:
    """The 95 % radius of a 2-D Student-t with `df` degrees of freedom, in units of its
    scale: sqrt(2 F) with F the 95th percentile of F(2, df) (4.3707 for df = 3)."""
    f95 = df / 2.0 * (0.05 ** (-2.0 / df) - 1.0)  # F(2, df)'s quantile has a closed form
    return float(np.sqrt(2.0 * f95))


def _correlated_normal(
    rng: np.random.Generator, n: int, interval_s: float, correlation_s: float
) -> FloatArray:
    """Unit-variance Gaussian noise, (n, 2), correlated over about `correlation_s`."""
    tau = max(correlation_s / interval_s, 1e-6)
    length = int(min(4 * tau, 50)) + 1
    kernel = np.exp(-np.arange(length) / tau)
    kernel /= np.sqrt((kernel**2).sum())
    white = rng.standard_normal((n + length - 1, 2))
    return np.column_stack([np.convolve(white[:, j], kernel, mode="valid") for j in range(2)])


def observe(
    built: Built,
    t: npt.NDArray[np.int64],
    rng: np.random.Generator,
    *,
    towns: TownMap,
    open_r95_m: float,
    interval_s: float,
    model: GpsErrorModel | None = None,
) -> Observed:
    model = GpsErrorModel() if model is None else model
    track = built.track
    tf = t.astype(np.float64)
    true_x, true_y = track.xy_at(tf)
    segment = np.clip(np.searchsorted(built.sky_t, tf, side="right") - 1, 0, None)
    sky = built.sky[segment].copy()
    r95 = built.sky_r95[segment].copy()
    outdoor = sky == Sky.OUTDOOR
    urban = towns.is_urban(true_x, true_y)
    sky[outdoor & urban] = Sky.URBAN
    sky[outdoor & ~urban] = Sky.OPEN
    r95[sky == Sky.OPEN] = open_r95_m
    r95 *= model.scale

    n = int(t.shape[0])
    draw = rng.random(n)
    missing = np.zeros(n, np.bool_)
    invalid = np.zeros(n, np.bool_)
    for code, p_missing in MISSING.items():
        here = sky == code
        missing |= here & (draw < p_missing)
        invalid |= here & (draw >= p_missing) & (draw < p_missing + INVALID[code] * (1 - p_missing))

    gauss = _correlated_normal(rng, n, interval_s, model.correlation_s)
    open_sky = sky == Sky.OPEN
    df = model.tail_df
    scale = np.where(open_sky, r95 / R95_PER_SCALE_GAUSS, r95 / r95_per_scale_t(df))
    tails = np.where(open_sky, 1.0, np.sqrt(df / rng.chisquare(df, n)))
    error = gauss * (scale * tails)[:, None]
    size = np.hypot(error[:, 0], error[:, 1])
    limit = model.max_error_per_r95 * r95
    error *= np.where(size > limit, limit / np.maximum(size, 1e-9), 1.0)[:, None]

    factor: FloatArray = rng.lognormal(0.0, model.accuracy_spread, n)
    under: BoolArray = rng.random(n) < model.under_reported_rate
    factor[under] = rng.uniform(*model.under_reported_factor, int(under.sum()))
    accuracy = np.maximum(np.round(r95 * factor, 1), 1.5)

    seg = np.clip(np.searchsorted(track.t, tf, side="right") - 1, 0, track.t.shape[0] - 1)
    true_speed = built.segment_speed[seg]
    speed = np.maximum(true_speed + rng.normal(0.0, 1.0, n) * (0.2 + 0.02 * r95), 0.0)
    moving = true_speed > 0.5
    heading = np.where(
        moving,
        (built.segment_heading[seg] + rng.normal(0.0, 10.0, n)) % 360.0,
        rng.uniform(0.0, 360.0, n),
    )
    satellites = np.zeros(n, np.int64)
    for code, (low, high) in SATELLITES.items():
        here = sky == code
        satellites[here] = rng.integers(low, high, int(here.sum()))
    satellites[invalid] = 0
    hdop = np.clip(accuracy / 5.0 * rng.uniform(0.8, 1.2, n), 0.6, 25.0)

    valid = ~invalid
    keep = ~missing
    x, y = true_x + error[:, 0], true_y + error[:, 1]
    # Without a fix, trackers repeat the last position they reported (with no satellites).
    last = np.maximum.accumulate(np.where(valid & keep, np.arange(n), -1))
    known = last >= 0
    x = np.where(valid, x, np.where(known, x[np.maximum(last, 0)], true_x))
    y = np.where(valid, y, np.where(known, y[np.maximum(last, 0)], true_y))
    return Observed(
        t=t[keep],
        true_x=true_x[keep],
        true_y=true_y[keep],
        x=x[keep],
        y=y[keep],
        valid=valid[keep],
        sky=sky[keep],
        accuracy_m=accuracy[keep],
        speed_mps=np.round(speed[keep], 2).astype(np.float64),
        heading_deg=np.round(heading[keep], 1).astype(np.float64),
        satellites=satellites[keep],
        hdop=np.round(hdop[keep], 1),
    )
