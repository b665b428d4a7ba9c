"""A trail as GeoJSON, GPX 1.1 and CSV: pure formatters from fixes to text.

Every format keeps the fix time, the position and the 95 % accuracy radius, because a trail
shown without its uncertainty invites reading more into it than the fixes can prove.

- GeoJSON: a FeatureCollection of one Point feature per fix (an invalid fix has geometry
  null: it proves the device talked, not where it was) and, when at least two valid fixes
  of one device exist, a LineString per device joining them in time order.
- GPX 1.1: one track per device, valid fixes only; the accuracy goes in a tagwatch
  extension (GPX has no element for it); speed and course are not GPX 1.1 elements either.
- CSV: every fix, invalid ones too, one row each, header first; text cells that a
  spreadsheet would run as a formula are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from tagwatch.domain.positions import Fix

GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"
TAGWATCH_NAMESPACE = "https://tagwatch.invalid/gpx/1"
CSV_COLUMNS = (
    "device_id",
    "fix_time",
    "lat",
    "lon",
    "accuracy_m",
    "valid",
    "speed_mps",
    "heading_deg",
    "altitude_m",
    "satellites",
    "hdop",
    "source",
    "device_time",
    "received_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fix_properties(fix: Fix) -> dict[str, Any]:
    """The facts of a fix other than its position, as JSON values."""
    return {
        "device_id": fix.device_id,
        "fix_time": _iso(fix.fix_time),
        "accuracy_m": fix.accuracy_m,
        "valid": fix.valid,
        "speed_mps": fix.speed_mps,
        "heading_deg": fix.heading_deg,
        "altitude_m": fix.altitude_m,
        "satellites": fix.satellites,
        "hdop": fix.hdop,
        "source": fix.source.value,
        "device_time": _iso(fix.device_time),
        "received_at": _iso(fix.received_at),
    }


def fix_point(fix: Fix) -> dict[str, Any] | None:
    """The GeoJSON Point of a valid fix; None for an invalid one."""
    if not fix.valid:
        return None
    return {"type": "Point", "coordinates": [fix.lon, fix.lat]}


def _by_device(fixes: Iterable[Fix]) -> dict[str, list[Fix]]:
    devices: dict[str, list[Fix]] = {}
    for fix in sorted(fixes, key=lambda f: (f.device_id, f.fix_time)):
        devices.setdefault(fix.device_id, []).append(fix)
    return devices


def trail_geojson(
    fixes: Sequence[Fix], *, subject_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """A FeatureCollection: the fixes as points, then one line per device."""
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": fix_point(fix),
            "properties": {"kind": "fix", **fix_properties(fix)},
        }
        for fix in sorted(fixes, key=lambda f: (f.fix_time, f.device_id))
    ]
    for device_id, device_fixes in _by_device(fixes).items():
        valid = [fix for fix in device_fixes if fix.valid]
        if len(valid) < 2:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[fix.lon, fix.lat] for fix in valid],
                },
                "properties": {
                    "kind": "track",
                    "device_id": device_id,
                    "start": _iso(valid[0].fix_time),
                    "end": _iso(valid[-1].fix_time),
                    "fixes": len(valid),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "properties": {"subject_id": subject_id, "start": _iso(start), "end": _iso(end)},
        "features": features,
    }


def _number(value: float) -> str:
    return repr(float(value))


def trail_gpx(fixes: Sequence[Fix], *, subject_id: str, start: datetime, end: datetime) -> str:
    """A GPX 1.1 document: one <trk> per device, valid fixes only, in time order."""
    ET.register_namespace("", GPX_NAMESPACE)
    ET.register_namespace("tagwatch", TAGWATCH_NAMESPACE)
    gpx = ET.Element(f"{{{GPX_NAMESPACE}}}gpx", {"version": "1.1", "creator": "tagwatch"})
    metadata = ET.SubElement(gpx, f"{{{GPX_NAMESPACE}}}metadata")
    ET.SubElement(metadata, f"{{{GPX_NAMESPACE}}}name").text = f"Trail of {subject_id}"
    ET.SubElement(
        metadata, f"{{{GPX_NAMESPACE}}}desc"
    ).text = f"Fixes from {_iso(start)} to {_iso(end)}; accuracy is the 95 % radius in metres."
    for device_id, device_fixes in _by_device(fixes).items():
        trk = ET.SubElement(gpx, f"{{{GPX_NAMESPACE}}}trk")
        ET.SubElement(trk, f"{{{GPX_NAMESPACE}}}name").text = f"{subject_id} / {device_id}"
        segment = ET.SubElement(trk, f"{{{GPX_NAMESPACE}}}trkseg")
        for fix in device_fixes:
            if not fix.valid:
                continue
            point = ET.SubElement(
                segment,
                f"{{{GPX_NAMESPACE}}}trkpt",
                {"lat": _number(fix.lat), "lon": _number(fix.lon)},
            )
            if fix.altitude_m is not None:
                ET.SubElement(point, f"{{{GPX_NAMESPACE}}}ele").text = _number(fix.altitude_m)
            ET.SubElement(point, f"{{{GPX_NAMESPACE}}}time").text = _iso(fix.fix_time)
            if fix.satellites is not None:
                ET.SubElement(point, f"{{{GPX_NAMESPACE}}}sat").text = str(fix.satellites)
            if fix.hdop is not None:
                ET.SubElement(point, f"{{{GPX_NAMESPACE}}}hdop").text = _number(fix.hdop)
            extensions = ET.SubElement(point, f"{{{GPX_NAMESPACE}}}extensions")
            ET.SubElement(extensions, f"{{{TAGWATCH_NAMESPACE}}}accuracy_m").text = _number(
                fix.accuracy_m
            )
    body = ET.tostring(gpx, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not isinstance(value, int):
        return "'" + text
    return text


def trail_csv(fixes: Sequence[Fix]) -> str:
    """RFC 4180 CSV with the `CSV_COLUMNS` header, one row per fix in time order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for fix in sorted(fixes, key=lambda f: (f.fix_time, f.device_id)):
        writer.writerow(
            [
                _cell(fix.device_id),
                _iso(fix.fix_time),
                _cell(fix.lat),
                _cell(fix.lon),
                _cell(fix.accuracy_m),
                _cell(fix.valid),
                _cell(fix.speed_mps),
                _cell(fix.heading_deg),
                _cell(fix.altitude_m),
                _cell(fix.satellites),
                _cell(fix.hdop),
                fix.source.value,
                _iso(fix.device_time) or "",
                _iso(fix.received_at) or "",
            ]
        )
    return out.getvalue()
