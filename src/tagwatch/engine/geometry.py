"""Signed distances from points to zone shapes, in metres, for many (point, shape) pairs at once.

Positive means inside the shape by that many metres from its boundary, negative outside. Most
fixes are kilometres from every zone, so each call settles what it can with numpy arithmetic
(circles exactly; areas and corridors by their bounding boxes and an inscribed disc) and sends
only the pairs near a boundary to GEOS, as whole arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
import shapely

from tagwatch.domain.zones import Area, Circle, Corridor, Shape
from tagwatch.engine.projection import Projector

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
ObjectArray = npt.NDArray[np.object_]


class ShapeKind(IntEnum):
    CIRCLE = 0
    AREA = 1
    CORRIDOR = 2


# A corridor's polygon replaces round caps and joins by chords. With 64 per quarter circle
# its rim stays within about 0.01 % of the half width of the true one (5 mm at 50 m), and
# that only counts where hw - d(path) is not already exact.
_CORRIDOR_QUAD_SEGS = 64
# The inscribed disc of an area is shrunk a little so rounding can never place it outside.
_CORE_SLACK_M = 1e-6


@dataclass(frozen=True, eq=False, slots=True)
class CompiledShapes:
    """Shapes projected to metres, as arrays indexed by shape number.

    kind: a `ShapeKind` per shape. cx, cy, radius: the circle (NaN for other kinds).
    half_width: a corridor's half width (NaN otherwise). core_x, core_y, core_r: a disc
    inside the shape (for an area, close to its largest inscribed circle; radius 0 for the
    other kinds), which settles most points deep inside large areas without GEOS.
    bounds: one row (minx, miny, maxx, maxy) per shape, its bounding box (for a corridor,
    the box of the buffered path).
    regions: the area or the buffered corridor as a prepared polygon (None for circles).
    boundaries: the boundary of each region, holes included (None for circles).
    paths: a corridor's centre line (None otherwise).
    """

    kind: npt.NDArray[np.int8]
    cx: FloatArray
    cy: FloatArray
    radius: FloatArray
    half_width: FloatArray
    core_x: FloatArray
    core_y: FloatArray
    core_r: FloatArray
    bounds: FloatArray
    regions: ObjectArray
    boundaries: ObjectArray
    paths: ObjectArray

    def __len__(self) -> int:
        return len(self.kind)

    def signed_distance(
        self,
        shape_index: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        reach: npt.ArrayLike,
    ) -> FloatArray:
        """Signed distance of each point (x[k], y[k]) to shape shape_index[k].

        Exact where the true distance is within `reach` (per pair, or one for all); beyond
        it the sign is right and the magnitude is at least `reach`. A NaN coordinate gives NaN.
        """
        return self.signed_distance_marked(shape_index, x, y, reach)[0]

    def signed_distance_marked(
        self,
        shape_index: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        reach: npt.ArrayLike,
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """`signed_distance`, and where it is exact whatever the reach (circles, and areas
        measured by GEOS): a caller that needs exact distances beyond the reach can skip
        those pairs instead of asking GEOS the same question twice."""
        index, px, py = self._pairs(shape_index, x, y)
        limit = np.maximum(np.broadcast_to(np.asarray(reach, dtype=np.float64), index.shape), 0.0)
        out = np.full(index.shape, np.nan)
        kind = self.kind[index]
        exact = kind == ShapeKind.CIRCLE

        circles = np.flatnonzero(exact)
        if circles.size:
            c = index[circles]
            out[circles] = self.radius[c] - np.hypot(
                px[circles] - self.cx[c], py[circles] - self.cy[c]
            )

        others = np.flatnonzero(kind != ShapeKind.CIRCLE)
        if others.size:
            s, ox, oy, lim = index[others], px[others], py[others], limit[others]
            box = self.bounds[s]
            gap_x = np.maximum(np.maximum(box[:, 0] - ox, ox - box[:, 2]), 0.0)
            gap_y = np.maximum(np.maximum(box[:, 1] - oy, oy - box[:, 3]), 0.0)
            # The shape lies inside its box, so the box is never farther away than the shape.
            gap = np.sqrt(gap_x * gap_x + gap_y * gap_y)
            far = gap > lim
            out[others[far]] = -gap[far]
            rest = np.flatnonzero(~far & np.isfinite(gap))
            if rest.size:
                s, ox, oy, lim = s[rest], ox[rest], oy[rest], lim[rest]
                # Inside the core disc the depth is at least core_r - (distance to its centre).
                depth = self.core_r[s] - np.hypot(ox - self.core_x[s], oy - self.core_y[s])
                deep = depth > lim
                out[others[rest[deep]]] = depth[deep]
                near = np.flatnonzero(~deep)
                if near.size:
                    at = others[rest[near]]
                    out[at] = self._near(s[near], ox[near], oy[near], lim[near])
                    # An area's GEOS distance is exact; a corridor's inside may be a bound.
                    exact[at] = self.kind[s[near]] == ShapeKind.AREA
        return out, exact

    def exact_signed_distance(
        self, shape_index: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> FloatArray:
        """Signed distance, exact however far the point is; every non-circle pair costs GEOS."""
        return self.signed_distance(shape_index, x, y, np.inf)

    def exact_from_bound(
        self, shape_index: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike, bound: FloatArray
    ) -> FloatArray:
        """`exact_signed_distance` of pairs whose `signed_distance` was a bound (nonzero,
        with the right sign): an area's is then the bound's sign times GEOS's distance to
        its boundary, so GEOS is not asked whether it contains the point (the bound already
        says, for a point at least a metre from the boundary). Other kinds go the long way.
        """
        index, px, py = self._pairs(shape_index, x, y)
        bound = np.asarray(bound, np.float64)
        if bound.shape != index.shape or not (bound != 0.0).all():
            raise ValueError("bound must be one nonzero signed distance per pair")
        areas = self.kind[index] == ShapeKind.AREA
        out = np.empty(index.shape, np.float64)
        if areas.any():
            gap = shapely.distance(
                self.boundaries[index[areas]], shapely.points(px[areas], py[areas])
            )
            out[areas] = np.where(bound[areas] > 0.0, gap, -gap)
        others = ~areas
        if others.any():
            out[others] = self.exact_signed_distance(index[others], px[others], py[others])
        return out

    def _pairs(
        self, shape_index: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[IndexArray, FloatArray, FloatArray]:
        index = np.asarray(shape_index, dtype=np.intp)
        px = np.asarray(x, dtype=np.float64)
        py = np.asarray(y, dtype=np.float64)
        if index.ndim != 1 or px.shape != index.shape or py.shape != index.shape:
            raise ValueError("shape_index, x and y must be 1-d arrays of one length")
        # Negative indices would silently wrap around to other shapes.
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"shape index out of range for {len(self)} shapes")
        return index, px, py

    def _near(self, s: IndexArray, x: FloatArray, y: FloatArray, limit: FloatArray) -> FloatArray:
        out = np.empty(s.shape, dtype=np.float64)
        points = shapely.points(x, y)
        areas = self.kind[s] == ShapeKind.AREA

        if areas.any():
            a = s[areas]
            inside = shapely.contains_xy(self.regions[a], x[areas], y[areas])
            gap = shapely.distance(self.boundaries[a], points[areas])
            out[areas] = np.where(inside, gap, -gap)

        corridors = ~areas
        if corridors.any():
            c = s[corridors]
            signed = self.half_width[c] - shapely.distance(self.paths[c], points[corridors])
            # hw - d(path) is exact outside, but inside it undercounts wherever two stretches
            # of the path are within 2 hw (the inner side of every bend). The distance to the
            # chorded buffer's rim is another lower bound, for points inside that polygon
            # (the chords cut slivers off the true buffer); the larger bound is the depth.
            refine = np.flatnonzero((signed > 0.0) & (signed < limit[corridors]))
            if refine.size:
                r, rx, ry = c[refine], x[corridors][refine], y[corridors][refine]
                rim = shapely.distance(self.boundaries[r], points[corridors][refine])
                rim[~shapely.contains_xy(self.regions[r], rx, ry)] = 0.0
                signed[refine] = np.maximum(signed[refine], rim)
            out[corridors] = signed
        return out


def compile_shapes(shapes: Sequence[Shape], projector: Projector) -> CompiledShapes:
    """Project and prepare shapes once; the result is reused for every batch.

    An area is the union of its polygons. Raises ValueError for a polygon GEOS calls invalid
    (e.g. a self-intersecting ring), so a zone is never judged by a shape nobody drew.
    """
    n = len(shapes)
    kind = np.empty(n, dtype=np.int8)
    floats = {
        name: np.full(n, np.nan)
        for name in ("cx", "cy", "radius", "half_width", "core_x", "core_y", "core_r")
    }
    floats["core_r"][:] = 0.0
    bounds = np.empty((n, 4), dtype=np.float64)
    regions = np.full(n, None, dtype=object)
    boundaries = np.full(n, None, dtype=object)
    paths = np.full(n, None, dtype=object)

    projected = _ProjectedPoints(shapes, projector)
    for s, shape in enumerate(shapes):
        if isinstance(shape, Circle):
            [[x, y]] = projected.next_points(s, 1)
            _require_finite(s, np.array([x, y]))
            kind[s] = ShapeKind.CIRCLE
            floats["cx"][s], floats["cy"][s], floats["radius"][s] = x, y, shape.radius_m
            bounds[s] = (
                x - shape.radius_m,
                y - shape.radius_m,
                x + shape.radius_m,
                y + shape.radius_m,
            )
        elif isinstance(shape, Area):
            region = _area_region(s, shape, projected)
            kind[s] = ShapeKind.AREA
            regions[s], boundaries[s] = region, shapely.boundary(region)
            floats["core_x"][s], floats["core_y"][s], floats["core_r"][s] = _core_disc(
                region, boundaries[s]
            )
            bounds[s] = shapely.bounds(region)
        elif isinstance(shape, Corridor):
            line = shapely.linestrings(projected.next_points(s, len(shape.path)))
            if not shapely.length(line) > 0:
                raise ValueError(f"shape {s}: a corridor path needs two distinct points")
            hw = shape.half_width_m
            kind[s] = ShapeKind.CORRIDOR
            floats["half_width"][s] = hw
            paths[s] = line
            regions[s] = shapely.buffer(line, hw, quad_segs=_CORRIDOR_QUAD_SEGS)
            boundaries[s] = shapely.boundary(regions[s])
            # The path's box grown by hw bounds the true buffer; the chorded polygon's is smaller.
            bounds[s] = shapely.bounds(line) + np.array([-hw, -hw, hw, hw])
        else:
            raise TypeError(f"shape {s}: unsupported shape {type(shape).__name__}")

    for geometries in (regions, boundaries, paths):
        shapely.prepare(geometries)
    return CompiledShapes(
        kind=kind,
        **floats,
        bounds=bounds,
        regions=regions,
        boundaries=boundaries,
        paths=paths,
    )


class _ProjectedPoints:
    """Every vertex of every shape projected in one call: PROJ's per-call overhead would
    otherwise dominate compiling a national rule book (hundreds of thousands of shapes)."""

    def __init__(self, shapes: Sequence[Shape], projector: Projector) -> None:
        coords = shape_vertices(shapes)
        x, y = projector.to_xy(coords[:, 0], coords[:, 1])
        self._xy = np.column_stack((x, y))
        self._next = 0

    def next_points(self, s: int, count: int) -> FloatArray:
        """The next `count` projected vertices, in the order the shapes list them."""
        xy = self._xy[self._next : self._next + count]
        self._next += count
        _require_finite(s, xy)
        return xy


def shape_vertices(shapes: Sequence[Shape]) -> FloatArray:
    """Every (lon, lat) vertex of every shape (a circle's centre), in the order listed."""
    lonlat: list[tuple[float, float]] = []
    for shape in shapes:
        if isinstance(shape, Circle):
            lonlat.append((shape.lon, shape.lat))
        elif isinstance(shape, Area):
            for polygon in shape.polygons:
                for ring in polygon:
                    lonlat.extend(ring)
        elif isinstance(shape, Corridor):
            lonlat.extend(shape.path)
    return np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)


def _require_finite(s: int, xy: FloatArray) -> None:
    if not np.isfinite(xy).all():
        raise ValueError(f"shape {s} lies outside the area the CRS can project")


def _area_region(s: int, area: Area, projected: _ProjectedPoints) -> object:
    parts = []
    for exterior, *holes in area.polygons:
        shell = projected.next_points(s, len(exterior))
        part = shapely.Polygon(shell, [projected.next_points(s, len(h)) for h in holes])
        if not shapely.is_valid(part):
            raise ValueError(f"shape {s}: invalid polygon: {shapely.is_valid_reason(part)}")
        parts.append(part)
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _core_disc(region: object, boundary: object) -> tuple[float, float, float]:
    # GEOS finds the centre only to a tolerance; measuring the radius from that centre
    # ourselves is what makes the disc provably inside.
    # A coarse tolerance (a twentieth of the shape's size) keeps this cheap; the disc only
    # needs to be large, not maximal.
    minx, miny, maxx, maxy = shapely.bounds(region)
    tolerance = max(maxx - minx, maxy - miny) / 20.0
    centre = shapely.get_point(shapely.maximum_inscribed_circle(region, tolerance), 0)
    cx, cy = float(shapely.get_x(centre)), float(shapely.get_y(centre))
    if not shapely.contains_xy(region, cx, cy):
        return cx, cy, 0.0
    radius = float(shapely.distance(boundary, centre)) - _CORE_SLACK_M
    return cx, cy, max(radius, 0.0)
