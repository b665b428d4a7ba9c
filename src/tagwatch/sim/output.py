"""Writing a simulation to files: JSON lines of what arrived and of the truth, GeoJSON of the
requirements, JSON of the subjects. Times are ISO 8601 in UTC with a "Z"."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from tagwatch.domain.positions import Fix
from tagwatch.domain.zones import Shape
from tagwatch.sim.model import Simulation
from tagwatch.sim.places import to_wgs84
from tagwatch.sim.shapes import shape_to_bng
from tagwatch.sim.timetable import describe


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fix_line(fix: Fix) -> str:
    return json.dumps(
        {
            "device_id": fix.device_id,
            "fix_time": iso(fix.fix_time),
            "lat": fix.lat,
            "lon": fix.lon,
            "accuracy_m": fix.accuracy_m,
            "valid": fix.valid,
            "received_at": iso(fix.received_at),
            "device_time": iso(fix.device_time),
            "speed_mps": fix.speed_mps,
            "heading_deg": fix.heading_deg,
            "satellites": fix.satellites,
            "hdop": fix.hdop,
            "source": fix.source.value,
        }
    )


def _write_lines(path: Path, lines: Iterable[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line)
            out.write("\n")
            count += 1
    return count


def _polygon_geojson(shape: Shape) -> dict[str, Any]:
    """The shape as a WGS84 GeoJSON (Multi)Polygon; circles become 64-sided polygons."""
    geometry = shape_to_bng(shape, quad_segs=16)
    parts = [geometry] if isinstance(geometry, shapely.Polygon) else list(geometry.geoms)
    polygons = []
    for part in parts:
        rings = []
        for ring in [part.exterior, *part.interiors]:
            xy = np.asarray(ring.coords)
            lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
            rings.append(np.column_stack([lon.round(7), lat.round(7)]).tolist())
        polygons.append(rings)
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _features(sim: Simulation) -> Iterator[dict[str, Any]]:
    for rules in sim.rule_book.subjects:
        for zone in rules.zones:
            yield {
                "type": "Feature",
                "geometry": _polygon_geojson(zone.shape),
                "properties": {
                    "id": zone.id,
                    "subject_id": zone.subject_id,
                    "kind": zone.kind.value,
                    "name": zone.name,
                    "schedule": describe(zone.schedule),
                    "warning_buffer_m": zone.warning_buffer_m,
                },
            }
        for curfew in rules.curfews:
            yield {
                "type": "Feature",
                "geometry": _polygon_geojson(curfew.address),
                "properties": {
                    "id": curfew.id,
                    "subject_id": curfew.subject_id,
                    "kind": "curfew",
                    "name": "curfew address",
                    "schedule": describe(curfew.schedule),
                    "beacon_device_id": curfew.beacon_device_id,
                },
            }


def _subjects(sim: Simulation) -> list[dict[str, Any]]:
    orders = {order.subject_id: order for order in sim.orders}
    devices: dict[str, list[str]] = {}
    for assignment in sim.assignments:
        devices.setdefault(assignment.subject_id, []).append(assignment.device_id)
    kinds = {device.id: device.kind.value for device in sim.devices}
    found = []
    for subject in sim.subjects:
        order = orders[subject.id]
        found.append(
            {
                "id": subject.id,
                "name": subject.name,
                "risk_level": subject.risk_level.value,
                "reference": subject.reference,
                "devices": [{"id": d, "kind": kinds[d]} for d in devices.get(subject.id, [])],
                "order": {
                    "id": order.id,
                    "type": order.order_type.value,
                    "start": iso(order.start),
                    "time_zone": order.time_zone,
                    "requirements": list(order.conditions),
                },
            }
        )
    return found


def write_simulation(sim: Simulation, out_dir: Path | str) -> dict[str, int]:
    """Write the simulation's files into `out_dir` (created if missing); counts per file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {
        "fixes.jsonl": _write_lines(out / "fixes.jsonl", map(_fix_line, sim.fixes)),
        "device_events.jsonl": _write_lines(
            out / "device_events.jsonl",
            (
                json.dumps(
                    {
                        "device_id": e.device_id,
                        "time": iso(e.time),
                        "kind": e.kind.value,
                        "value": e.value,
                        "received_at": iso(e.received_at),
                    }
                )
                for e in sim.device_events
            ),
        ),
        "truth.jsonl": _write_lines(
            out / "truth.jsonl",
            (
                json.dumps(
                    {
                        "subject_id": v.subject_id,
                        "device_id": v.device_id,
                        "rule": v.rule.value,
                        "requirement_id": v.requirement_id,
                        "start": iso(v.start),
                        "end": iso(v.end),
                        "duration_s": round(v.duration_s, 1),
                    }
                )
                for v in sim.truth
            ),
        ),
        "near_misses.jsonl": _write_lines(
            out / "near_misses.jsonl",
            (
                json.dumps(
                    {
                        "subject_id": m.subject_id,
                        "device_id": m.device_id,
                        "rule": m.rule.value,
                        "requirement_id": m.requirement_id,
                        "time": iso(m.time),
                        "closest_m": m.closest_m,
                    }
                )
                for m in sim.near_misses
            ),
        ),
    }
    features = list(_features(sim))
    (out / "zones.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    counts["zones.geojson"] = len(features)
    subjects = _subjects(sim)
    (out / "subjects.json").write_text(json.dumps(subjects, indent=1), encoding="utf-8")
    counts["subjects.json"] = len(subjects)
    return counts
