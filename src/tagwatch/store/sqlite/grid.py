"""A fixed latitude/longitude grid that indexes fixes for proximity queries.

Each valid fix gets the integer key of its grid cell (0.005° of latitude by 0.008° of
longitude: about 560 m square in southern England). An index on (cell, fix_time_ms) turns
"who was within 300 m of this point between 01:00 and 03:00" into a handful of index range
reads (the cells covering the circle's bounding box, each limited by time), after which the
exact great-circle distance decides. Unlike an R*Tree this costs one ordinary B-tree index
on insert, and time, the most selective dimension, is part of the key.

The bounding box is computed on the sphere, grown by a margin, and split at the
antimeridian; a circle that reaches a pole covers every longitude.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
LAT_STEP = 0.005
LON_STEP = 0.008
ROWS = round(180 / LAT_STEP)
COLS = round(360 / LON_STEP)
_MARGIN = 1.001  # grow the box by 0.1 % so rounding never loses an edge fix
_SMALL_RANGE = 32  # shorter runs of cells are looked up one by one (IN), longer ones as ranges


def _row(lat: float) -> int:
    """The grid row of a latitude in [-90, 90] (int() floors: the operand is not negative)."""
    row = int((lat + 90.0) / LAT_STEP)
    return row if row < ROWS else ROWS - 1


def _col(lon: float) -> int:
    col = int((lon + 180.0) / LON_STEP)
    return col if col < COLS else COLS - 1


def cell_of(lat: float, lon: float) -> int | None:
    """The cell key of a position; None for a position that is not a real one."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also false for NaN
        return None
    return _row(lat) * COLS + _col(lon)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean sphere, in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _lon_spans(lon: float, lat: float, angle: float) -> list[tuple[float, float]]:
    """Longitude intervals of the circle's bounding box, split at the antimeridian."""
    lat_r = math.radians(lat)
    reach = math.sin(angle) / math.cos(lat_r) if abs(lat) < 90.0 else math.inf
    if reach >= 1.0:
        return [(-180.0, 180.0)]
    half = math.degrees(math.asin(reach)) * _MARGIN + 1e-9
    low, high = lon - half, lon + half
    if low < -180.0:
        return [(low + 360.0, 180.0), (-180.0, high)]
    if high > 180.0:
        return [(low, 180.0), (-180.0, high - 360.0)]
    return [(low, high)]


def covering_cells(
    lon: float, lat: float, radius_m: float
) -> tuple[list[int], list[tuple[int, int]]]:
    """Cells that may hold a point within `radius_m`: single keys and inclusive key ranges."""
    if not radius_m >= 0:
        raise ValueError("the radius must not be negative")
    angle = radius_m / EARTH_RADIUS_M
    half_lat = math.degrees(angle) * _MARGIN + 1e-9
    south, north = lat - half_lat, lat + half_lat
    if north >= 90.0 or south <= -90.0 or angle >= math.pi / 2:
        spans = [(-180.0, 180.0)]
    else:
        spans = _lon_spans(lon, lat, angle)
    singles: list[int] = []
    ranges: list[tuple[int, int]] = []
    for row in range(_row(max(south, -90.0)), _row(min(north, 90.0)) + 1):
        for west, east in spans:
            first, last = row * COLS + _col(west), row * COLS + _col(east)
            if last - first < _SMALL_RANGE:
                singles.extend(range(first, last + 1))
            else:
                ranges.append((first, last))
    return singles, ranges
