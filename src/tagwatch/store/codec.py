"""JSON forms of shapes and schedules, shared by every store and by the API.

Shapes are GeoJSON geometries in WGS84 (longitude, latitude). A circle is a `Point` and a
corridor a `LineString`, each with a foreign member (RFC 7946, section 6.1) for the size
GeoJSON has no word for: `radius_m`, `half_width_m`. An area is a `Polygon` or a
`MultiPolygon`. PostGIS reads the geometry of all four with `ST_GeomFromGeoJSON`.

The stored form keeps polygon rings exactly as given, so a zone comes back equal to the
one saved; `shape_to_geojson(shape)` closes rings for strict GeoJSON output, and
`shape_from_geojson` keeps whatever ring closure it is given.

Instants in schedules are written as UTC ISO 8601; they are read back aware, in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from tagwatch.domain.schedules import ExceptionMode, Schedule, ScheduleException, WeeklyWindow
from tagwatch.domain.zones import Area, Circle, Corridor, LonLat, Ring, Shape

JsonObject = dict[str, Any]


def dumps(value: object) -> str:
    """Compact, deterministic JSON; NaN and infinity are refused."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must be time-zone aware")
    return moment.astimezone(UTC).isoformat()


def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {text!r}")
    return moment.astimezone(UTC)


# -- shapes ------------------------------------------------------------------------------


def _ring_out(ring: Ring, *, close: bool) -> list[list[float]]:
    points = [[lon, lat] for lon, lat in ring]
    if close and points[0] != points[-1]:
        points.append(points[0])
    return points


def shape_to_geojson(shape: Shape, *, close_rings: bool = True) -> JsonObject:
    """A GeoJSON geometry for `shape` (with `radius_m`/`half_width_m` where needed)."""
    if isinstance(shape, Circle):
        return {"type": "Point", "coordinates": [shape.lon, shape.lat], "radius_m": shape.radius_m}
    if isinstance(shape, Corridor):
        return {
            "type": "LineString",
            "coordinates": [[lon, lat] for lon, lat in shape.path],
            "half_width_m": shape.half_width_m,
        }
    polygons = [
        [_ring_out(ring, close=close_rings) for ring in polygon] for polygon in shape.polygons
    ]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _point(value: Sequence[Any]) -> LonLat:
    if len(value) < 2:
        raise ValueError(f"a position needs longitude and latitude: {value!r}")
    return (float(value[0]), float(value[1]))


def _ring_in(value: Sequence[Any]) -> Ring:
    return tuple(_point(point) for point in value)


def _number(obj: Mapping[str, Any], key: str, kind: str) -> float:
    if key not in obj:
        raise ValueError(f"a {kind} needs {key!r}")
    return float(obj[key])


def shape_from_geojson(obj: Mapping[str, Any]) -> Shape:
    """The shape of a GeoJSON geometry (or of a Feature, whose properties may give sizes)."""
    if obj.get("type") == "Feature":
        geometry = dict(obj.get("geometry") or {})
        properties = obj.get("properties") or {}
        for key in ("radius_m", "half_width_m"):
            if key in properties and key not in geometry:
                geometry[key] = properties[key]
        return shape_from_geojson(geometry)
    kind = obj.get("type")
    coordinates = obj.get("coordinates")
    if not isinstance(coordinates, Sequence):
        raise ValueError("a geometry needs coordinates")
    if kind == "Point":
        lon, lat = _point(coordinates)
        return Circle(lon, lat, _number(obj, "radius_m", "circle (Point)"))
    if kind == "LineString":
        path = tuple(_point(point) for point in coordinates)
        return Corridor(path, _number(obj, "half_width_m", "corridor (LineString)"))
    if kind == "Polygon":
        return Area((tuple(_ring_in(ring) for ring in coordinates),))
    if kind == "MultiPolygon":
        return Area(tuple(tuple(_ring_in(ring) for ring in polygon) for polygon in coordinates))
    raise ValueError(f"unsupported geometry type: {kind!r}")


def shape_to_text(shape: Shape) -> str:
    """The stored form: GeoJSON with rings exactly as given."""
    return dumps(shape_to_geojson(shape, close_rings=False))


def shape_from_text(text: str) -> Shape:
    return shape_from_geojson(json.loads(text))


# -- schedules ---------------------------------------------------------------------------


def schedule_to_json(schedule: Schedule) -> JsonObject:
    return {
        "always": schedule.always,
        "windows": [
            {"weekday": w.weekday, "start": w.start.isoformat(), "end": w.end.isoformat()}
            for w in schedule.windows
        ],
        "first_day": schedule.first_day.isoformat() if schedule.first_day else None,
        "last_day": schedule.last_day.isoformat() if schedule.last_day else None,
        "exceptions": [
            {
                "start": utc_iso(e.start),
                "end": utc_iso(e.end),
                "mode": e.mode.value,
                "reason": e.reason,
            }
            for e in schedule.exceptions
        ],
        "time_zone": schedule.time_zone,
    }


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def schedule_from_json(obj: Mapping[str, Any]) -> Schedule:
    return Schedule(
        always=bool(obj["always"]),
        windows=tuple(
            WeeklyWindow(
                int(w["weekday"]), time.fromisoformat(w["start"]), time.fromisoformat(w["end"])
            )
            for w in obj.get("windows", ())
        ),
        first_day=_day(obj.get("first_day")),
        last_day=_day(obj.get("last_day")),
        exceptions=tuple(
            ScheduleException(
                start=parse_instant(e["start"]),
                end=parse_instant(e["end"]),
                mode=ExceptionMode(e.get("mode", ExceptionMode.LIFTED.value)),
                reason=str(e.get("reason", "")),
            )
            for e in obj.get("exceptions", ())
        ),
        time_zone=str(obj["time_zone"]),
    )


def schedule_to_text(schedule: Schedule) -> str:
    return dumps(schedule_to_json(schedule))


def schedule_from_text(text: str) -> Schedule:
    return schedule_from_json(json.loads(text))
