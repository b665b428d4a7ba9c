"""The JSON forms every store shares: GeoJSON shapes and schedules."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from tagwatch.domain.schedules import Schedule, ScheduleException
from tagwatch.domain.zones import Area, Circle, Corridor
from tagwatch.store.codec import (
    schedule_from_json,
    schedule_to_json,
    shape_from_geojson,
    shape_to_geojson,
)

OPEN_RING = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))


def test_geojson_output_closes_polygon_rings() -> None:
    geometry = shape_to_geojson(Area(((OPEN_RING,),)))
    assert geometry == {
        "type": "Polygon",
        "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]],
    }


def test_a_circle_is_a_point_with_a_radius() -> None:
    assert shape_to_geojson(Circle(-0.3, 51.7, 200.0)) == {
        "type": "Point",
        "coordinates": [-0.3, 51.7],
        "radius_m": 200.0,
    }
    assert shape_from_geojson({"type": "Point", "coordinates": [-0.3, 51.7], "radius_m": 200}) == (
        Circle(-0.3, 51.7, 200.0)
    )


def test_a_feature_may_carry_the_size_in_its_properties() -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[0, 0], [0.01, 0]]},
        "properties": {"half_width_m": 20},
    }
    assert shape_from_geojson(feature) == Corridor(((0.0, 0.0), (0.01, 0.0)), 20.0)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [0, 0]},  # no radius
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},  # no half width
        {"type": "GeometryCollection", "geometries": []},
        {"type": "Polygon"},
    ],
)
def test_geometries_tagwatch_cannot_use_are_refused(geometry: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        shape_from_geojson(geometry)


def test_schedules_survive_json() -> None:
    schedule = Schedule.every_day(
        time(19),
        time(7),
        exceptions=(
            ScheduleException(
                datetime(2026, 12, 25, 11, tzinfo=UTC), datetime(2026, 12, 25, 15, tzinfo=UTC)
            ),
        ),
    )
    assert schedule_from_json(schedule_to_json(schedule)) == schedule
