"""Signed distances from fixes to zone shapes, in metres, and the projection they live in.

Shapes are drawn in local grid metres east and north of a point in Hertfordshire, handed to
the engine in WGS84 like every zone, and checked against brute-force references computed
from the local metres directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from tagwatch.domain.zones import Area, Circle, Corridor, LonLat, Ring
from tagwatch.engine.geometry import ShapeKind, compile_shapes
from tagwatch.engine.projection import Projector

PROJECTOR = Projector()
ORIGIN = (-0.3, 51.75)
OX, OY = PROJECTOR.point_to_xy(*ORIGIN)
GEOD = pyproj.Geod(ellps="WGS84")

Local = list[tuple[float, float]]


def at(dx: float, dy: float) -> LonLat:
    """WGS84 of the point dx metres east and dy metres north of ORIGIN on the grid."""
    lon, lat = PROJECTOR.to_lonlat(OX + dx, OY + dy)
    return float(lon), float(lat)


def to_ring(points: Local) -> Ring:
    return tuple(at(dx, dy) for dx, dy in points)


def square(x0: float, y0: float, x1: float, y1: float) -> Local:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def wobbly_ring(cx: float, cy: float, radius: float, vertices: int) -> Local:
    angles = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    radii = radius * (1 + 0.25 * np.sin(5 * angles))
    return list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles), strict=True))


@dataclass(frozen=True)
class LocalCircle:
    centre: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class LocalArea:
    polygons: list[list[Local]]  # each an exterior ring, then holes


@dataclass(frozen=True)
class LocalCorridor:
    path: Local
    half_width: float


LocalShape = LocalCircle | LocalArea | LocalCorridor

DESIGN: list[LocalShape] = [
    LocalCircle((0.0, 0.0), 100.0),
    LocalArea([[square(0, 0, 200, 200), square(80, 80, 120, 120)]]),
    LocalArea([[square(0, 0, 100, 100)], [square(300, 0, 400, 100)]]),
    LocalCorridor([(0.0, 0.0), (1000.0, 0.0)], 50.0),
    LocalCorridor([(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0)], 50.0),
    LocalArea([[wobbly_ring(500, 500, 1200, 100), wobbly_ring(300, 300, 150, 40)]]),
    LocalCorridor([(0.0, 0.0), (600.0, 0.0), (600.0, 80.0), (0.0, 80.0)], 60.0),
]
CIRCLE, HOLED, MULTI, STRAIGHT, BEND, BIG, HAIRPIN = range(len(DESIGN))


def to_shape(design: LocalShape) -> Circle | Area | Corridor:
    if isinstance(design, LocalCircle):
        return Circle(*at(*design.centre), design.radius)
    if isinstance(design, LocalArea):
        return Area(tuple(tuple(to_ring(ring) for ring in poly) for poly in design.polygons))
    return Corridor(tuple(at(dx, dy) for dx, dy in design.path), design.half_width)


COMPILED = compile_shapes([to_shape(design) for design in DESIGN], PROJECTOR)


def judge(shape: int, dx: float, dy: float, reach: float) -> float:
    result = COMPILED.signed_distance(np.array([shape]), [OX + dx], [OY + dy], reach)
    return float(result[0])


# Brute-force references, from the local metres and without GEOS distances.


def segment_distance(px: float, py: float, points: Local, closed: bool) -> float:
    ends = points[1:] + (points[:1] if closed else [])
    best = math.inf
    for (ax, ay), (bx, by) in zip(points, ends, strict=False):
        ux, uy = bx - ax, by - ay
        t = min(max(((px - ax) * ux + (py - ay) * uy) / (ux * ux + uy * uy), 0.0), 1.0)
        best = min(best, math.hypot(px - ax - t * ux, py - ay - t * uy))
    return best


def crossings(px: float, py: float, ring: Local) -> int:
    count = 0
    for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
            count += 1
    return count


# The engine's corridor polygon has 64 chords per quarter circle; where two arcs meet the
# chords cross a little inside the true corner, hence the margin over one sagitta.
CHORD_ERROR = 1.5 * (1 - math.cos(math.pi / 256))


def reference(shape: int, px: float, py: float) -> tuple[float, float]:
    """(signed distance, tolerance) of the local point (px, py) to DESIGN[shape]."""
    design = DESIGN[shape]
    if isinstance(design, LocalCircle):
        cx, cy = design.centre
        return design.radius - math.hypot(px - cx, py - cy), 1e-6
    if isinstance(design, LocalArea):
        rings = [ring for polygon in design.polygons for ring in polygon]
        gap = min(segment_distance(px, py, ring, closed=True) for ring in rings)
        inside = sum(crossings(px, py, ring) for ring in rings) % 2 == 1
        return (gap if inside else -gap), 1e-6
    signed = design.half_width - segment_distance(px, py, design.path, closed=False)
    if signed <= 0:
        return signed, 1e-6
    # Inside, depth is the distance to the buffer's rim, which can exceed hw - d(path) at a bend.
    fine = shapely.buffer(shapely.LineString(design.path), design.half_width, quad_segs=256)
    rim = float(shapely.distance(shapely.boundary(fine), shapely.Point(px, py)))
    return rim, design.half_width * CHORD_ERROR + 1e-6


# Boundary tables.

# (case, shape, dx, dy, expected signed distance in metres)
BOUNDARY_ROWS: list[tuple[str, int, float, float, float]] = [
    ("circle-1m-inside", CIRCLE, 99, 0, 1.0),
    ("circle-1m-outside", CIRCLE, 101, 0, -1.0),
    ("circle-centre", CIRCLE, 0, 0, 100.0),
    ("circle-250m-from-centre", CIRCLE, -150, -200, -150.0),
    ("polygon-between-edge-and-hole", HOLED, 60, 100, 20.0),
    ("polygon-1m-inside-edge", HOLED, 1, 100, 1.0),
    ("polygon-10m-outside", HOLED, -10, 100, -10.0),
    ("hole-1m-in-is-outside", HOLED, 81, 100, -1.0),
    ("hole-centre-is-outside", HOLED, 100, 100, -20.0),
    ("polygon-1m-before-hole", HOLED, 79, 100, 1.0),
    ("multipolygon-first-part", MULTI, 50, 50, 50.0),
    ("multipolygon-second-part", MULTI, 350, 50, 50.0),
    ("multipolygon-between-parts", MULTI, 200, 50, -100.0),
    ("multipolygon-1m-outside-second", MULTI, 401, 50, -1.0),
    ("corridor-10m-off-centre", STRAIGHT, 500, 10, 40.0),
    ("corridor-1m-outside-side", STRAIGHT, 500, -51, -1.0),
    ("corridor-beyond-end-cap", STRAIGHT, 1100, 0, -50.0),
    ("corridor-on-round-cap", STRAIGHT, -30, 40, 0.0),
    ("corridor-inner-side-of-bend", BEND, 975, 25, math.hypot(25, 25)),
    ("corridor-outer-side-of-bend", BEND, 1000, -25, 25.0),
    ("corridor-outside-bend-join", BEND, 1060, -10, 50 - math.hypot(60, 10)),
    ("corridor-between-hairpin-arms", HAIRPIN, 300, 40, 100.0),
]
BOUNDARY_TABLE = [pytest.param(*row[1:], id=row[0]) for row in BOUNDARY_ROWS]
OFF_BOUNDARY = [pytest.param(*row[1:], id=row[0]) for row in BOUNDARY_ROWS if abs(row[4]) >= 1]


@pytest.mark.parametrize(("shape", "dx", "dy", "expected"), BOUNDARY_TABLE)
def test_signed_distance_is_exact_within_reach(
    shape: int, dx: float, dy: float, expected: float
) -> None:
    assert judge(shape, dx, dy, reach=abs(expected) + 1.0) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("shape", "dx", "dy", "expected"), BOUNDARY_TABLE)
def test_exact_signed_distance_ignores_reach(
    shape: int, dx: float, dy: float, expected: float
) -> None:
    result = COMPILED.exact_signed_distance(np.array([shape]), [OX + dx], [OY + dy])
    assert float(result[0]) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("shape", "dx", "dy", "expected"), OFF_BOUNDARY)
def test_beyond_reach_the_sign_holds_and_the_magnitude_reaches_it(
    shape: int, dx: float, dy: float, expected: float
) -> None:
    reach = abs(expected) / 2
    result = judge(shape, dx, dy, reach)
    assert math.copysign(1.0, result) == math.copysign(1.0, expected)
    assert abs(result) >= reach


def test_negative_reach_counts_as_zero() -> None:
    assert judge(HOLED, 60, 100, reach=-5.0) > 0
    assert judge(HOLED, 100, 100, reach=-5.0) < 0
    assert judge(MULTI, 2000, 50, reach=-5.0) == pytest.approx(-1600.0)


def test_far_points_get_the_distance_to_the_bounding_box() -> None:
    # 1 km east of the box of the second part; the true distance is the same here.
    assert judge(MULTI, 1400, 50, reach=10.0) == pytest.approx(-1000.0, abs=1e-6)
    # Off the corner of the box: the box bound is the Euclidean gap to the corner.
    assert judge(MULTI, 1400, 1100, reach=10.0) == pytest.approx(-math.hypot(1000, 1000))


# Agreement with the brute-force reference on random points.

near_coordinate = st.floats(-1700.0, 2800.0)
any_coordinate = near_coordinate | st.floats(-20_000.0, 20_000.0)
pair = st.tuples(
    st.integers(0, len(DESIGN) - 1), any_coordinate, any_coordinate, st.floats(0.0, 400.0)
)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(pair, min_size=1, max_size=40))
def test_fast_path_agrees_with_brute_force_reference(
    pairs: list[tuple[int, float, float, float]],
) -> None:
    shape = np.array([p[0] for p in pairs])
    dx = np.array([p[1] for p in pairs])
    dy = np.array([p[2] for p in pairs])
    reach = np.array([p[3] for p in pairs])
    fast = COMPILED.signed_distance(shape, OX + dx, OY + dy, reach)
    exact = COMPILED.exact_signed_distance(shape, OX + dx, OY + dy)
    for k, (s, px, py, limit) in enumerate(pairs):
        expected, tolerance = reference(s, px, py)
        assert exact[k] == pytest.approx(expected, abs=tolerance)
        if abs(expected) <= limit + tolerance:
            assert fast[k] == pytest.approx(expected, abs=tolerance)
        else:
            assert fast[k] * expected > 0, (s, px, py, limit, fast[k], expected)
            assert abs(fast[k]) >= limit
            assert abs(fast[k]) <= abs(expected) + tolerance  # a bound, never an overstatement


def _placed(pairs: list[tuple[int, float, float, float]]) -> tuple[np.ndarray, ...]:
    """(shape, x, y, reach) columns of drawn pairs, the offsets placed around (OX, OY)."""
    columns = list(zip(*pairs, strict=True))
    return (
        np.array(columns[0]),
        OX + np.array(columns[1]),
        OY + np.array(columns[2]),
        np.array(columns[3]),
    )


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(pair, min_size=1, max_size=40))
def test_distances_marked_exact_are_the_exact_ones_to_the_bit(
    pairs: list[tuple[int, float, float, float]],
) -> None:
    shape, x, y, reach = _placed(pairs)
    fast, marked = COMPILED.signed_distance_marked(shape, x, y, reach)

    assert np.array_equal(fast, COMPILED.signed_distance(shape, x, y, reach))
    exact = COMPILED.exact_signed_distance(shape, x, y)
    assert np.array_equal(fast[marked], exact[marked])


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(pair, min_size=1, max_size=40))
def test_exact_distance_from_a_bound_is_the_exact_one_to_the_bit(
    pairs: list[tuple[int, float, float, float]],
) -> None:
    shape, x, y, reach = _placed(pairs)
    # At least a metre of reach, as the engine always has (accuracy + buffer + 1 m).
    reach = np.maximum(reach, 1.0)
    fast, marked = COMPILED.signed_distance_marked(shape, x, y, reach)
    bounds = np.flatnonzero(~marked & np.isfinite(fast) & (np.abs(fast) >= reach))

    from_bound = COMPILED.exact_from_bound(shape[bounds], x[bounds], y[bounds], fast[bounds])
    exact = COMPILED.exact_signed_distance(shape[bounds], x[bounds], y[bounds])
    assert np.array_equal(from_bound, exact)


def test_corridor_depth_under_a_round_cap_is_never_overstated() -> None:
    # 1 mm inside the true cap all round: the engine's chorded polygon cuts slivers off
    # the cap, and a depth measured to its rim from within a sliver would be too deep.
    angles = np.radians(np.linspace(91.0, 269.0, 4001))
    dx, dy = 49.999 * np.cos(angles), 49.999 * np.sin(angles)
    shape = np.full(angles.shape, STRAIGHT)
    result = COMPILED.signed_distance(shape, OX + dx, OY + dy, 10.0)
    assert result.max() <= 0.001 + 1e-6
    assert result.min() >= 0.001 - 1e-6


def test_one_call_handles_every_kind_and_keeps_pair_order() -> None:
    shape = np.array([BEND, CIRCLE, MULTI, CIRCLE, HOLED, STRAIGHT])
    dx = np.array([500.0, 99.0, 350.0, 101.0, 100.0, 500.0])
    dy = np.array([10.0, 0.0, 50.0, 0.0, 100.0, -51.0])
    result = COMPILED.signed_distance(shape, OX + dx, OY + dy, 200.0)
    np.testing.assert_allclose(result, [40.0, 1.0, 50.0, -1.0, -20.0, -1.0], atol=0.01)


def test_non_finite_points_give_nan_and_do_not_disturb_others() -> None:
    shape = np.array([CIRCLE, HOLED, STRAIGHT, HOLED])
    x = np.array([np.nan, np.nan, OX + 500, OX + 60])
    y = np.array([OY, np.nan, np.nan, OY + 100])
    result = COMPILED.signed_distance(shape, x, y, 50.0)
    assert np.isnan(result[:3]).all()
    assert result[3] == pytest.approx(20.0, abs=0.01)


def test_empty_batch_gives_empty_result() -> None:
    empty = np.array([], dtype=np.float64)
    result = COMPILED.signed_distance(np.array([], dtype=np.intp), empty, empty, 10.0)
    assert result.shape == (0,)
    assert result.dtype == np.float64


def test_out_of_range_shape_index_is_refused() -> None:
    with pytest.raises(IndexError):
        COMPILED.signed_distance(np.array([-1]), [OX], [OY], 10.0)
    with pytest.raises(IndexError):
        COMPILED.signed_distance(np.array([len(DESIGN)]), [OX], [OY], 10.0)


def test_mismatched_pair_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="one length"):
        COMPILED.signed_distance(np.array([0, 1]), [OX], [OY], 10.0)


# Compilation.


def test_compiled_arrays_describe_each_shape() -> None:
    assert COMPILED.kind.tolist() == [
        ShapeKind.CIRCLE,
        ShapeKind.AREA,
        ShapeKind.AREA,
        ShapeKind.CORRIDOR,
        ShapeKind.CORRIDOR,
        ShapeKind.AREA,
        ShapeKind.CORRIDOR,
    ]
    assert COMPILED.radius[CIRCLE] == 100.0
    assert COMPILED.cx[CIRCLE] == pytest.approx(OX, abs=1e-6)
    np.testing.assert_allclose(
        COMPILED.bounds[CIRCLE], [OX - 100, OY - 100, OX + 100, OY + 100], atol=1e-6
    )
    # A corridor's box is the box of its buffered path, round caps included.
    np.testing.assert_allclose(
        COMPILED.bounds[STRAIGHT], [OX - 50, OY - 50, OX + 1050, OY + 50], atol=1e-6
    )
    assert shapely.is_prepared(COMPILED.regions[HOLED])
    assert shapely.is_prepared(COMPILED.paths[STRAIGHT])


def test_core_disc_lies_inside_its_area() -> None:
    for shape in (HOLED, MULTI, BIG):
        centre = shapely.Point(COMPILED.core_x[shape], COMPILED.core_y[shape])
        disc = shapely.buffer(centre, COMPILED.core_r[shape] * 0.999)
        assert COMPILED.core_r[shape] > 0
        assert shapely.contains(COMPILED.regions[shape], disc)


def test_overlapping_polygons_of_an_area_count_as_their_union() -> None:
    area = Area(((to_ring(square(0, 0, 100, 100)),), (to_ring(square(50, 0, 150, 100)),)))
    compiled = compile_shapes([area], PROJECTOR)
    # In the overlap, 50 m from the union's edge though only 25 m from either part's.
    result = compiled.signed_distance(np.array([0]), [OX + 75], [OY + 50], 100.0)
    assert float(result[0]) == pytest.approx(50.0, abs=0.01)


def test_self_intersecting_polygon_is_refused() -> None:
    bow_tie = Area(((to_ring([(0, 0), (100, 100), (100, 0), (0, 100)]),),))
    with pytest.raises(ValueError, match="invalid polygon"):
        compile_shapes([bow_tie], PROJECTOR)


def test_corridor_without_length_is_refused() -> None:
    with pytest.raises(ValueError, match="two distinct points"):
        compile_shapes([Corridor((at(0, 0), at(0, 0)), 10.0)], PROJECTOR)


# Projection.


@settings(deadline=None)
@given(lon=st.floats(-0.5, -0.1), lat=st.floats(51.6, 51.9))
def test_projection_round_trip_near_hertfordshire_is_within_a_tenth_of_a_mm(
    lon: float, lat: float
) -> None:
    x, y = PROJECTOR.point_to_xy(lon, lat)
    back_lon, back_lat = PROJECTOR.to_lonlat(x, y)
    _, _, moved = GEOD.inv(lon, lat, float(back_lon), float(back_lat))
    assert moved < 1e-4
    again_x, again_y = PROJECTOR.to_xy(back_lon, back_lat)
    assert math.hypot(float(again_x) - x, float(again_y) - y) < 1e-4


def test_vector_and_scalar_projection_agree() -> None:
    lon = np.array([-0.3, -0.25, -0.35])
    lat = np.array([51.75, 51.8, 51.7])
    x, y = PROJECTOR.to_xy(lon, lat)
    assert x.dtype == np.float64
    for k in range(3):
        assert PROJECTOR.point_to_xy(lon[k], lat[k]) == pytest.approx((x[k], y[k]), abs=1e-9)
    # Hertfordshire lies in grid square TL, about 517 km east and 208 km north.
    assert 510_000 < x[0] < 525_000
    assert 200_000 < y[0] < 215_000


@settings(deadline=None)
@given(azimuth=st.floats(0.0, 360.0), distance=st.floats(100.0, 5000.0))
def test_grid_metres_agree_with_geodesic_metres(azimuth: float, distance: float) -> None:
    lon, lat, _ = GEOD.fwd(*ORIGIN, azimuth, distance)
    x, y = PROJECTOR.point_to_xy(lon, lat)
    ox, oy = PROJECTOR.point_to_xy(*ORIGIN)
    assert math.hypot(x - ox, y - oy) == pytest.approx(distance, rel=0.005)


def test_circle_radius_agrees_with_geodesic_metres() -> None:
    compiled = compile_shapes([Circle(*ORIGIN, 1000.0)], PROJECTOR)
    for azimuth, distance in [(0.0, 1200.0), (90.0, 800.0), (225.0, 1010.0)]:
        lon, lat, _ = GEOD.fwd(*ORIGIN, azimuth, distance)
        x, y = PROJECTOR.point_to_xy(lon, lat)
        result = compiled.signed_distance(np.array([0]), [x], [y], 500.0)
        assert float(result[0]) == pytest.approx(1000.0 - distance, abs=0.005 * distance)


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:4326", "not projected"),
        ("EPSG:2263", "needs metres"),  # New York Long Island, US survey feet
        ("not a crs", "unknown CRS"),
    ],
)
def test_projector_refuses_crs_not_projected_in_metres(crs: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Projector(crs)


def test_projector_leaves_proj_network_as_it_was() -> None:
    before = pyproj.network.is_network_enabled()
    Projector("EPSG:3035")
    assert pyproj.network.is_network_enabled() == before
