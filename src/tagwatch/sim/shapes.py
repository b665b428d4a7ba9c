"""Requirement shapes in British National Grid metres: shapely geometry and fast masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from tagwatch.domain.zones import Area, Circle, Corridor, Shape
from tagwatch.sim.places import point_to_wgs84, to_bng, to_wgs84

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def shape_to_bng(shape: Shape, *, quad_segs: int = 32) -> shapely.Geometry:
    """The shape as a shapely polygon in metres (a circle as a fine polygon)."""
    if isinstance(shape, Circle):
        x, y = to_bng([shape.lon], [shape.lat])
        return shapely.buffer(shapely.Point(x[0], y[0]), shape.radius_m, quad_segs=quad_segs)
    if isinstance(shape, Corridor):
        x, y = to_bng([p[0] for p in shape.path], [p[1] for p in shape.path])
        line = shapely.LineString(np.column_stack([x, y]))
        return shapely.buffer(line, shape.half_width_m, quad_segs=quad_segs)
    polygons = []
    for polygon in shape.polygons:
        rings = []
        for ring in polygon:
            x, y = to_bng([p[0] for p in ring], [p[1] for p in ring])
            rings.append(np.column_stack([x, y]))
        polygons.append(shapely.Polygon(rings[0], rings[1:]))
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def area_from_bng(geometry: shapely.Geometry) -> Area:
    """A WGS84 `Area` of a metre polygon; rings closed, as in GeoJSON."""
    parts = [geometry] if isinstance(geometry, shapely.Polygon) else list(geometry.geoms)
    polygons = []
    for part in parts:
        rings = []
        for ring in [part.exterior, *part.interiors]:
            xy = np.asarray(ring.coords)
            lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
            rings.append(tuple(zip(lon.round(7).tolist(), lat.round(7).tolist(), strict=True)))
        polygons.append(tuple(rings))
    return Area(tuple(polygons))


def circle_from_bng(x: float, y: float, radius_m: float) -> Circle:
    lon, lat = point_to_wgs84(x, y)
    return Circle(round(lon, 7), round(lat, 7), radius_m)


@dataclass(frozen=True, slots=True)
class Region:
    """A shape in metres that answers "inside?" and "how far outside?" for many points.

    Circles are arithmetic; polygons test a bounding box first and send only nearby points
    to GEOS, because almost all of a day is spent kilometres from any one zone.
    """

    geometry: shapely.Geometry
    circle: tuple[float, float, float] | None  # (x, y, radius) when the shape is a circle

    @classmethod
    def of(cls, shape: Shape) -> Region:
        geometry = shape_to_bng(shape)
        shapely.prepare(geometry)
        circle = None
        if isinstance(shape, Circle):
            x, y = to_bng([shape.lon], [shape.lat])
            circle = (float(x[0]), float(y[0]), shape.radius_m)
        return cls(geometry, circle)

    def contains(self, x: FloatArray, y: FloatArray) -> BoolArray:
        if self.circle is not None:
            cx, cy, r = self.circle
            return (x - cx) ** 2 + (y - cy) ** 2 < r * r
        xmin, ymin, xmax, ymax = self.geometry.bounds
        near = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
        inside = np.zeros(x.shape, np.bool_)
        if near.any():
            inside[near] = shapely.contains_xy(self.geometry, x[near], y[near])
        return inside

    def signed_distance(self, x: FloatArray, y: FloatArray, *, within_m: float) -> FloatArray:
        """Distance to the boundary, negative inside; +inf beyond `within_m` outside."""
        if self.circle is not None:
            cx, cy, r = self.circle
            d = np.hypot(x - cx, y - cy) - r
            return np.where(d > within_m, np.inf, d)
        xmin, ymin, xmax, ymax = self.geometry.bounds
        near = (
            (x >= xmin - within_m)
            & (x <= xmax + within_m)
            & (y >= ymin - within_m)
            & (y <= ymax + within_m)
        )
        result = np.full(x.shape, np.inf)
        if near.any():
            points = shapely.points(x[near], y[near])
            d = shapely.distance(self.geometry.boundary, points)
            inside = shapely.contains_xy(self.geometry, x[near], y[near])
            d = np.where(inside, -d, d)
            result[near] = np.where(d > within_m, np.inf, d)
        return result
