"""Real Hertfordshire towns, and the projection the simulator measures in.

The simulator works in British National Grid metres (EPSG:27700), the engine's default CRS,
and converts to WGS84 only for what it emits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

FloatArray = npt.NDArray[np.float64]
BNG = "EPSG:27700"
WGS84 = "EPSG:4326"


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    lat: float
    lon: float
    population_k: float  # weights where subjects live
    urban_radius_m: float  # within this of the centre, GPS outdoors is "urban"


TOWNS: tuple[Town, ...] = (
    Town("St Albans", 51.7527, -0.3394, 82, 2200),
    Town("Watford", 51.6565, -0.3903, 102, 2500),
    Town("Hemel Hempstead", 51.7526, -0.4692, 97, 2400),
    Town("Stevenage", 51.9038, -0.1966, 90, 2300),
    Town("Hatfield", 51.7634, -0.2231, 41, 1600),
    Town("Welwyn Garden City", 51.8032, -0.2070, 48, 1700),
    Town("Hitchin", 51.9490, -0.2830, 35, 1500),
    Town("Hertford", 51.7956, -0.0781, 27, 1400),
    Town("Bishop's Stortford", 51.8720, 0.1590, 40, 1600),
    Town("Letchworth", 51.9780, -0.2300, 34, 1500),
    Town("Harpenden", 51.8175, -0.3570, 31, 1400),
    Town("Berkhamsted", 51.7600, -0.5650, 19, 1100),
    Town("Ware", 51.8107, -0.0286, 19, 1100),
    Town("Royston", 52.0480, -0.0240, 17, 1000),
    Town("Tring", 51.7950, -0.6580, 12, 900),
    Town("Potters Bar", 51.6980, -0.1830, 22, 1200),
    Town("Borehamwood", 51.6570, -0.2720, 36, 1500),
    Town("Cheshunt", 51.7000, -0.0330, 47, 1700),
    Town("Hoddesdon", 51.7610, -0.0110, 42, 1500),
    Town("Rickmansworth", 51.6390, -0.4700, 16, 1100),
)


@cache
def _to_bng() -> Transformer:
    return Transformer.from_crs(WGS84, BNG, always_xy=True)


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(BNG, WGS84, always_xy=True)


def to_bng(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = _to_bng().transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(lon, lat) of British National Grid points."""
    lon, lat = _to_wgs84().transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def point_to_wgs84(x: float, y: float) -> tuple[float, float]:
    lon, lat = _to_wgs84().transform(float(x), float(y))
    return float(lon), float(lat)


@dataclass(frozen=True, slots=True)
class TownMap:
    """The towns in metres, with what the simulator asks of them."""

    towns: tuple[Town, ...]
    x: FloatArray
    y: FloatArray
    urban_radius_m: FloatArray
    weights: FloatArray

    @classmethod
    def hertfordshire(cls) -> TownMap:
        x, y = to_bng([t.lon for t in TOWNS], [t.lat for t in TOWNS])
        weights = np.array([t.population_k for t in TOWNS], np.float64)
        return cls(
            towns=TOWNS,
            x=x,
            y=y,
            urban_radius_m=np.array([t.urban_radius_m for t in TOWNS], np.float64),
            weights=weights / weights.sum(),
        )

    def is_urban(self, x: FloatArray, y: FloatArray) -> npt.NDArray[np.bool_]:
        urban = np.zeros(x.shape, np.bool_)
        for tx, ty, radius in zip(self.x, self.y, self.urban_radius_m, strict=True):
            urban |= (x - tx) ** 2 + (y - ty) ** 2 < radius * radius
        return urban

    def nearest(self, x: float, y: float, *, exclude: int | None = None) -> list[int]:
        """Town indices by distance from (x, y)."""
        order = np.argsort(np.hypot(self.x - x, self.y - y))
        return [int(i) for i in order if int(i) != exclude]
