"""Latest positions, and a subject's trail as GeoJSON, GPX and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from apikit import PURPOSE, T0, add_tagged_subject
from fastapi.testclient import TestClient

from tagwatch.domain.positions import Fix
from tagwatch.service.exports import CSV_COLUMNS

GPX = "{http://www.topografix.com/GPX/1/1}"


def _fixes(device_id: str = "tag-1") -> list[Fix]:
    return [
        Fix(device_id, T0 + timedelta(minutes=1), 51.752, -0.336, 8.0, satellites=9, hdop=0.9),
        Fix(device_id, T0 + timedelta(minutes=2), 51.753, -0.335, 12.5, altitude_m=95.0),
        Fix(device_id, T0 + timedelta(minutes=3), 0.0, 0.0, 0.0, valid=False),
        Fix(device_id, T0 + timedelta(minutes=4), 51.754, -0.334, 6.0, speed_mps=1.5),
    ]


@pytest.fixture
def trail(api: TestClient, admin: dict[str, str], stack: Any) -> list[Fix]:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    fixes = _fixes()
    stack.services.store.fixes.add_fixes([*fixes, *_fixes("tag-other")])  # not fitted: left out
    return fixes


def _get(api: TestClient, headers: dict[str, str], **params: Any) -> Any:
    query = {
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
        **PURPOSE,
        **params,
    }
    return api.get("/api/v1/subjects/s-1/trail", params=query, headers=headers)


def test_a_trail_as_geojson_has_a_point_per_fix_and_a_line(
    api: TestClient, operator: dict[str, str], trail: list[Fix]
) -> None:
    answer = _get(api, operator)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    assert body["properties"] == {
        "subject_id": "s-1",
        "start": "2026-11-05T20:00:00Z",
        "end": "2026-11-05T21:00:00Z",
    }
    points = [f for f in body["features"] if f["properties"]["kind"] == "fix"]
    assert [p["geometry"] for p in points] == [
        {"type": "Point", "coordinates": [-0.336, 51.752]},
        {"type": "Point", "coordinates": [-0.335, 51.753]},
        None,  # an invalid fix: it talked, its position means nothing
        {"type": "Point", "coordinates": [-0.334, 51.754]},
    ]
    first = points[0]["properties"]
    assert first["fix_time"] == "2026-11-05T20:01:00Z"
    assert (first["accuracy_m"], first["satellites"], first["hdop"]) == (8.0, 9, 0.9)
    assert points[2]["properties"]["valid"] is False
    (line,) = [f for f in body["features"] if f["properties"]["kind"] == "track"]
    assert line["geometry"]["coordinates"] == [[-0.336, 51.752], [-0.335, 51.753], [-0.334, 51.754]]
    assert line["properties"]["fixes"] == 3


def test_a_trail_as_gpx_has_the_valid_fixes_with_their_accuracy(
    api: TestClient, operator: dict[str, str], trail: list[Fix]
) -> None:
    answer = _get(api, operator, format="gpx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/gpx+xml")
    assert 'filename="trail-s-1.gpx"' in answer.headers["content-disposition"]
    root = ET.fromstring(answer.text)  # noqa: S314 - our own output
    assert root.tag == f"{GPX}gpx" and root.attrib["version"] == "1.1"
    points = root.findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")
    assert [(p.attrib["lat"], p.attrib["lon"]) for p in points] == [
        ("51.752", "-0.336"),
        ("51.753", "-0.335"),
        ("51.754", "-0.334"),
    ]
    assert [p.findtext(f"{GPX}time") for p in points] == [
        "2026-11-05T20:01:00Z",
        "2026-11-05T20:02:00Z",
        "2026-11-05T20:04:00Z",
    ]
    assert points[0].findtext(f"{GPX}sat") == "9"
    assert points[1].findtext(f"{GPX}ele") == "95.0"
    accuracy = points[1].find(f"{GPX}extensions/{{https://tagwatch.invalid/gpx/1}}accuracy_m")
    assert accuracy is not None and accuracy.text == "12.5"


def test_a_trail_as_csv_has_every_fix(
    api: TestClient, operator: dict[str, str], trail: list[Fix]
) -> None:
    answer = _get(api, operator, format="csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 5
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["device_id"] == "tag-1" and first["fix_time"] == "2026-11-05T20:01:00Z"
    assert (first["lat"], first["lon"], first["accuracy_m"], first["valid"]) == (
        "51.752",
        "-0.336",
        "8.0",
        "true",
    )
    assert dict(zip(CSV_COLUMNS, rows[3], strict=True))["valid"] == "false"
    assert dict(zip(CSV_COLUMNS, rows[4], strict=True))["speed_mps"] == "1.5"


def test_a_trail_range_is_inclusive_and_can_skip_invalid_fixes(
    api: TestClient, operator: dict[str, str], trail: list[Fix]
) -> None:
    answer = _get(
        api,
        operator,
        start=(T0 + timedelta(minutes=2)).isoformat(),
        end=(T0 + timedelta(minutes=4)).isoformat(),
        valid_only="true",
        format="csv",
    )
    times = [row[1] for row in list(csv.reader(io.StringIO(answer.text)))[1:]]
    assert times == ["2026-11-05T20:02:00Z", "2026-11-05T20:04:00Z"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "2026-11-05T20:00:00"}, 422),  # naive
        ({"end": "2026-11-05T19:00:00Z"}, 422),  # reversed
        ({"end": "2027-11-05T19:00:00Z"}, 422),  # too long
        ({"format": "kml"}, 422),
        ({"start": "yesterday"}, 422),
    ],
)
def test_a_bad_trail_request_is_4xx(
    api: TestClient, operator: dict[str, str], trail: list[Fix], params: dict[str, str], status: int
) -> None:
    assert _get(api, operator, **params).status_code == status


def test_the_trail_of_an_unknown_subject_is_404(api: TestClient, operator: dict[str, str]) -> None:
    answer = api.get(
        "/api/v1/subjects/nobody/trail",
        params={"start": T0.isoformat(), "end": T0.isoformat(), **PURPOSE},
        headers=operator,
    )
    assert answer.status_code == 404


def test_latest_positions_are_geojson_with_the_subject(
    api: TestClient, viewer: dict[str, str], trail: list[Fix]
) -> None:
    body = api.get("/api/v1/positions", headers=viewer).json()
    assert body["type"] == "FeatureCollection"
    by_device = {f["id"]: f for f in body["features"]}
    assert set(by_device) == {"tag-1", "tag-other"}
    mine = by_device["tag-1"]
    assert mine["geometry"] == {"type": "Point", "coordinates": [-0.334, 51.754]}
    assert mine["properties"]["subject_id"] == "s-1"
    assert mine["properties"]["fix_time"] == "2026-11-05T20:04:00Z"
    assert by_device["tag-other"]["properties"]["subject_id"] is None
    one = api.get("/api/v1/positions", params={"subject_id": "s-1"}, headers=viewer).json()
    assert [f["id"] for f in one["features"]] == ["tag-1"]
    assert (
        api.get("/api/v1/positions", params={"subject_id": "x"}, headers=viewer).status_code == 404
    )


def test_a_trail_needs_a_stated_purpose(
    api: TestClient, operator: dict[str, str], trail: list[Fix]
) -> None:
    query = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    answer = api.get("/api/v1/subjects/s-1/trail", params=query, headers=operator)
    assert answer.status_code == 422
    assert "purpose_code" in answer.json()["detail"]
    text_only = {**query, "purpose": "case 12/345"}
    assert (
        api.get("/api/v1/subjects/s-1/trail", params=text_only, headers=operator).status_code == 422
    )
    unknown_code = {**query, **PURPOSE, "purpose_code": "curiosity"}
    answer = api.get("/api/v1/subjects/s-1/trail", params=unknown_code, headers=operator)
    assert answer.status_code == 422


def test_viewers_see_live_positions_but_not_trails(
    api: TestClient, viewer: dict[str, str], trail: list[Fix]
) -> None:
    assert api.get("/api/v1/positions", headers=viewer).status_code == 200
    answer = _get(api, viewer)
    assert answer.status_code == 403
    assert "viewer" in answer.json()["detail"]
