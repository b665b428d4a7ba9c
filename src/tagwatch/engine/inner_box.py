"""Lon/lat boxes proven to lie deep inside a shape, so most fixes inside an inclusion zone
are settled without projecting them.

Most fixes lie well inside the inclusion zones that hold them (a district, a county), just
as most lie far from every exclusion zone. For an exclusion zone the engine rules a fix out
with the shape's lon/lat box grown by the fix's reach; for an inclusion zone it needs the
opposite: a lon/lat box whose every point is inside the shape by at least `depth_m`. It is
built from a disc inside the shape (the circle itself, or an area's core disc): a box around
the disc's centre is drawn in degrees and then *checked*: its outline, densely sampled, is
projected with the engine's own projector and must stay inside the disc shrunk by `depth_m`
(and a metre). The projection maps the box's outline to a curve around the image of the box,
so a disc holding the curve holds the whole image. A box that fails is shrunk and tried
again; one that keeps failing is dropped (NaN: no fix is ever inside it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tagwatch.engine.geometry import CompiledShapes, ShapeKind
from tagwatch.engine.projection import Projector

FloatArray = npt.NDArray[np.float64]

MAX_DEPTH_M = 2000.0  # a fix settled by the box may have a reach of up to this (or R / 2)
MIN_RADIUS_M = 20.0  # smaller discs get no box: too few fixes would fall inside it
# Metres per degree of latitude at the poles, the largest: a box drawn with it is smaller
# than intended on the ground everywhere, never larger.
MAX_METRES_PER_DEGREE = 111_700.0
SAMPLES_PER_EDGE = 8  # the outline between samples bends by millimetres
SLACK_M = 1.0  # for the outline's bend between samples and for rounding
ATTEMPTS = 4


def inner_boxes(
    shapes: CompiledShapes, projector: Projector, wanted: npt.NDArray[np.bool_] | None = None
) -> tuple[FloatArray, FloatArray]:
    """(boxes, depth_m): per shape a (min lon, min lat, max lon, max lat) box whose points are
    inside the shape by at least depth_m; NaN rows for shapes without one, and for shapes
    not `wanted` (default: all)."""
    n = len(shapes)
    boxes = np.full((n, 4), np.nan)
    depth = np.zeros(n)
    circle = shapes.kind == ShapeKind.CIRCLE
    cx = np.where(circle, shapes.cx, shapes.core_x)
    cy = np.where(circle, shapes.cy, shapes.core_y)
    radius = np.where(circle, shapes.radius, shapes.core_r)
    usable = (shapes.kind != ShapeKind.CORRIDOR) & np.isfinite(radius) & (radius >= MIN_RADIUS_M)
    todo = np.flatnonzero(usable if wanted is None else usable & wanted)
    if todo.shape[0] == 0:
        return boxes, depth
    depth[todo] = np.minimum(radius[todo] / 2.0, MAX_DEPTH_M)
    room = radius[todo] - depth[todo]  # the box's image must lie within this of the centre
    lon0, lat0 = projector.to_lonlat(cx[todo], cy[todo])
    # A square inscribed in the disc, a little smaller, converted with the largest metres
    # per degree: its ground size is at most the intended one.
    half = room / np.sqrt(2.0) * 0.9
    scale = 1.0
    for _ in range(ATTEMPTS):
        pending = np.flatnonzero(np.isnan(boxes[todo, 0]))
        if pending.shape[0] == 0:
            break
        s = todo[pending]
        dlat = half[pending] * scale / MAX_METRES_PER_DEGREE
        cos_lat = np.cos(np.radians(np.minimum(np.abs(lat0[pending]) + dlat, 89.0)))
        dlon = dlat / np.maximum(cos_lat, 1e-6)
        box = np.column_stack(
            (
                lon0[pending] - dlon,
                lat0[pending] - dlat,
                lon0[pending] + dlon,
                lat0[pending] + dlat,
            )
        )
        fits = _outline_within(box, projector, cx[s], cy[s], room[pending] - SLACK_M)
        boxes[s[fits]] = box[fits]
        scale *= 0.5
    depth[np.isnan(boxes[:, 0])] = 0.0
    return boxes, depth


def _outline_within(
    box: FloatArray, projector: Projector, cx: FloatArray, cy: FloatArray, radius: FloatArray
) -> npt.NDArray[np.bool_]:
    """Whether each box's outline, projected, stays within `radius` of (cx, cy)."""
    t = np.linspace(0.0, 1.0, SAMPLES_PER_EDGE, endpoint=False)
    lon_lo, lat_lo, lon_hi, lat_hi = (box[:, i : i + 1] for i in range(4))
    lon_span, lat_span = lon_hi - lon_lo, lat_hi - lat_lo
    shape = (box.shape[0], t.shape[0])

    def side(values: FloatArray) -> FloatArray:
        return np.broadcast_to(values, shape)

    # Bottom, right, top and left edges, counter-clockwise.
    lon = np.hstack((lon_lo + lon_span * t, side(lon_hi), lon_hi - lon_span * t, side(lon_lo)))
    lat = np.hstack((side(lat_lo), lat_lo + lat_span * t, side(lat_hi), lat_hi - lat_span * t))
    x, y = projector.to_xy(lon.reshape(-1), lat.reshape(-1))
    gap = np.hypot(x.reshape(lon.shape) - cx[:, None], y.reshape(lat.shape) - cy[:, None])
    fits: npt.NDArray[np.bool_] = np.all(gap <= radius[:, None], axis=1) & np.isfinite(gap).all(
        axis=1
    )
    return fits
