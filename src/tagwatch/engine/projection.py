"""WGS84 longitude/latitude to and from the engine's projected CRS, in metres.

Fixes and zones must go through the same `Projector`: a zone and a fix projected by different
transformation pipelines could disagree by metres, which is the size of the margins we judge.
"""

from __future__ import annotations

import logging
from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError

from tagwatch.domain.rules import AUTO_CRS, DEFAULT_CRS

FloatArray = npt.NDArray[np.float64]

_WGS84 = "EPSG:4326"
_METRE_NAMES = frozenset({"metre", "meter", "m"})
# A transverse Mercator stretches distances by about (east-west offset / Earth radius)^2 / 2:
# 1 % some 900 km from its central meridian. Zones spread wider than this (in degrees of
# longitude at their latitude) cannot all be judged well in one CRS chosen for them.
_WIDEST_SPAN_DEG = 16.0

log = logging.getLogger(__name__)


def choose_crs(wanted: str, lon: npt.ArrayLike, lat: npt.ArrayLike) -> str:
    """The CRS to judge zones at (lon, lat) in: `wanted`, unless it is AUTO_CRS.

    Automatic: DEFAULT_CRS (British National Grid) while every zone lies within its area of
    use, so British deployments keep it; otherwise the WGS 84 UTM zone of the zones' centre
    (beyond UTM's latitudes, a Lambert azimuthal equal-area projection centred on them). A
    national grid used far outside its area distorts distances badly (British National
    Grid: +44 % in New York), and the engine judges margins of metres. With no zones there
    is nothing to distort: DEFAULT_CRS. The choice is a pure function of the zones, so
    every monitor and preview judging the same zones picks the same CRS.
    """
    if wanted != AUTO_CRS:
        return wanted
    lons = np.asarray(lon, dtype=np.float64).reshape(-1)
    lats = np.asarray(lat, dtype=np.float64).reshape(-1)
    finite = np.isfinite(lons) & np.isfinite(lats)
    lons, lats = lons[finite], lats[finite]
    if lons.size == 0:
        return DEFAULT_CRS
    area = _area_of_use(DEFAULT_CRS)
    south, north = float(lats.min()), float(lats.max())
    if (
        area.west_lon_degree <= lons.min()
        and lons.max() <= area.east_lon_degree
        and area.south_lat_degree <= south
        and north <= area.north_lat_degree
    ):
        return DEFAULT_CRS
    west, east = float(lons.min()), float(lons.max())
    if east - west > 180.0:  # across the antimeridian: measure in 0..360 instead
        shifted = np.where(lons < 0.0, lons + 360.0, lons)
        west, east = float(shifted.min()), float(shifted.max())
    centre_lon = (west + east) / 2.0
    centre_lon = centre_lon - 360.0 if centre_lon > 180.0 else centre_lon
    centre_lat = (south + north) / 2.0
    span = (east - west) * np.cos(np.radians(centre_lat))
    if span > _WIDEST_SPAN_DEG or north - south > _WIDEST_SPAN_DEG:
        log.warning(
            "zones span %.0f x %.0f degrees: one projected CRS distorts distances across that;"
            " set TAGWATCH_CRS to a CRS made for the region, or run a monitor per region",
            east - west,
            north - south,
        )
    return _local_crs(round(centre_lon, 3), round(centre_lat, 3))


@cache
def _area_of_use(crs: str) -> AreaOfInterest:
    """(west, south, east, north) in degrees where `crs` is made to be used."""
    area = CRS.from_user_input(crs).area_of_use
    if area is None:  # pragma: no cover - EPSG codes carry their area
        raise ValueError(f"CRS {crs!r} has no area of use")
    return AreaOfInterest(area.west, area.south, area.east, area.north)


@cache
def _local_crs(lon: float, lat: float) -> str:
    found = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    # Plain UTM zones only (EPSG 326xx north, 327xx south), not regional variants.
    codes = sorted(
        f"{info.auth_name}:{info.code}"
        for info in found
        if info.auth_name == "EPSG" and info.code[:3] in ("326", "327")
    )
    if codes:
        return codes[0]
    return f"+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"


class Projector:
    """Projects WGS84 (lon, lat) to a projected CRS whose axes are in metres, and back.

    Never opens the network: PROJ's network access stays as pyproj configures it (off
    unless the deployment enables it), so the transformation used is the best one the
    locally installed PROJ data allows.
    """

    __slots__ = ("_transformer", "crs")

    def __init__(self, crs: str = DEFAULT_CRS) -> None:
        try:
            target = CRS.from_user_input(crs)
        except CRSError as error:
            raise ValueError(f"unknown CRS {crs!r}: {error}") from error
        if not target.is_projected:
            raise ValueError(f"CRS {crs!r} is not projected; the engine measures in metres")
        # A compound CRS (e.g. with a height axis) is fine; only the horizontal axes matter.
        horizontal = target.axis_info[:2]
        if len(horizontal) < 2 or any(
            axis.unit_name not in _METRE_NAMES or axis.unit_conversion_factor != 1.0
            for axis in horizontal
        ):
            units = ", ".join(axis.unit_name for axis in horizontal)
            raise ValueError(f"CRS {crs!r} has axes in {units}, but the engine needs metres")
        self.crs = crs
        self._transformer = Transformer.from_crs(_WGS84, target, always_xy=True)

    def to_xy(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        x, y = self._transformer.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def point_to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._transformer.transform(float(lon), float(lat))
        return float(x), float(y)

    def to_lonlat(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The inverse of `to_xy`, to micrometres.

        PROJ inverts a Helmert datum shift only approximately (about 1 mm across Britain),
        so one fixed-point step against the forward transform removes what it leaves.
        """
        xs = np.asarray(x, dtype=np.float64)
        ys = np.asarray(y, dtype=np.float64)
        lon, lat = self._inverse(xs, ys)
        x_back, y_back = self.to_xy(lon, lat)
        return self._inverse(2.0 * xs - x_back, 2.0 * ys - y_back)

    def _inverse(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        # The inverse of the same pipeline, so a round trip cannot pick another transformation.
        lon, lat = self._transformer.transform(x, y, direction=TransformDirection.INVERSE)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def __repr__(self) -> str:
        return f"Projector({self.crs!r})"
