"""WGS84 longitude/latitude to and from the engine's projected CRS, in metres.

Fixes and zones must go through the same `Projector`: a zone and a fix projected by different
transformation pipelines could disagree by metres, which is the size of the margins we judge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError

from tagwatch.domain.rules import DEFAULT_CRS

FloatArray = npt.NDArray[np.float64]

_WGS84 = "EPSG:4326"
_METRE_NAMES = frozenset({"metre", "meter", "m"})


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
