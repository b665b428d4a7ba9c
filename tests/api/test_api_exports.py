"""The trail formatters on their own: several devices, odd values, escaping."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from xml.etree import ElementTree as ET

from apikit import T0

from tagwatch.domain.positions import Fix
from tagwatch.service.exports import trail_csv, trail_geojson, trail_gpx

GPX = "{http://www.topografix.com/GPX/1/1}"


def _fix(device_id: str, minute: int, lat: float = 51.75, lon: float = -0.33) -> Fix:
    return Fix(device_id, T0 + timedelta(minutes=minute), lat, lon, 10.0)


def test_a_tag_swap_gives_one_line_and_one_track_per_device() -> None:
    fixes = [_fix("old", 1), _fix("old", 2, 51.76), _fix("new", 3), _fix("new", 4, 51.77)]
    end = T0 + timedelta(hours=1)
    collection = trail_geojson(fixes, subject_id="s", start=T0, end=end)
    lines = [f for f in collection["features"] if f["properties"]["kind"] == "track"]
    assert [line["properties"]["device_id"] for line in lines] == ["new", "old"]
    root = ET.fromstring(trail_gpx(fixes, subject_id="s", start=T0, end=end))  # noqa: S314
    tracks = root.findall(f"{GPX}trk")
    assert [t.findtext(f"{GPX}name") for t in tracks] == ["s / new", "s / old"]


def test_one_fix_gives_no_line_and_an_empty_trail_is_still_a_document() -> None:
    collection = trail_geojson([_fix("tag", 1)], subject_id="s", start=T0, end=T0)
    assert [f["properties"]["kind"] for f in collection["features"]] == ["fix"]
    assert trail_geojson([], subject_id="s", start=T0, end=T0)["features"] == []
    assert ET.fromstring(trail_gpx([], subject_id="s", start=T0, end=T0)).tag == f"{GPX}gpx"  # noqa: S314
    assert trail_csv([]).startswith("device_id,fix_time,")


def test_gpx_escapes_names() -> None:
    text = trail_gpx([_fix("<tag&1>", 1)], subject_id='"s"&<b>', start=T0, end=T0)
    root = ET.fromstring(text)  # noqa: S314
    assert root.findtext(f"{GPX}trk/{GPX}name") == '"s"&<b> / <tag&1>'


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    rows = list(csv.reader(io.StringIO(trail_csv([_fix("=HYPERLINK(1)", 1, lat=-33.9)]))))
    assert rows[1][0] == "'=HYPERLINK(1)"
    assert rows[1][2] == "-33.9"  # numbers are never touched
