"""Zones as GeoJSON Features in and out, curfews and appointments with their schedules."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import ST_ALBANS, add_subject, circle_zone, created
from fastapi.testclient import TestClient

SQUARE = [[-0.34, 51.75], [-0.33, 51.75], [-0.33, 51.76], [-0.34, 51.76], [-0.34, 51.75]]
HOLE = [[-0.337, 51.753], [-0.335, 51.753], [-0.335, 51.755], [-0.337, 51.753]]
EVERY_NIGHT = {
    "windows": [{"weekday": day, "start": "19:00:00", "end": "07:00:00"} for day in range(7)],
    "exceptions": [
        {
            "start": "2026-12-25T10:00:00Z",
            "end": "2026-12-25T16:00:00Z",
            "mode": "lifted",
            "reason": "Christmas lunch",
        }
    ],
    "first_day": "2026-11-01",
    "last_day": None,
    "time_zone": "Europe/London",
}

GEOMETRIES = {
    "circle": {"type": "Point", "coordinates": list(ST_ALBANS), "radius_m": 150.0},
    "polygon": {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
    "multipolygon": {
        "type": "MultiPolygon",
        "coordinates": [[SQUARE], [[[-0.2, 51.7], [-0.19, 51.7], [-0.19, 51.71], [-0.2, 51.7]]]],
    },
    "corridor": {
        "type": "LineString",
        "coordinates": [[-0.34, 51.75], [-0.30, 51.76]],
        "half_width_m": 25.0,
    },
}


@pytest.fixture
def subject(api: TestClient, admin: dict[str, str]) -> str:
    add_subject(api, admin, "s-1")
    return "s-1"


@pytest.mark.parametrize("shape", sorted(GEOMETRIES))
def test_a_zone_goes_in_and_comes_out_as_the_same_feature(
    api: TestClient, admin: dict[str, str], subject: str, shape: str
) -> None:
    feature = {
        "type": "Feature",
        "id": f"zone-{shape}",
        "geometry": GEOMETRIES[shape],
        "properties": {
            "subject_id": subject,
            "kind": "exclusion",
            "name": "victim's street",
            "warning_buffer_m": 100.0,
            "dwell_s": 240.0,
            "release_s": 60.0,
            "schedule": EVERY_NIGHT,
        },
    }
    out = created(api.post("/api/v1/zones", json=feature, headers=admin))
    assert out["type"] == "Feature" and out["id"] == f"zone-{shape}"
    assert out["geometry"] == GEOMETRIES[shape]
    properties = out["properties"]
    assert properties == {
        **feature["properties"],
        "order_id": "",
        "schedule": {**EVERY_NIGHT, "always": False},
    }
    assert api.get(f"/api/v1/zones/{out['id']}", headers=admin).json() == out
    collection = api.get("/api/v1/zones", params={"subject_id": subject}, headers=admin).json()
    assert collection == {"type": "FeatureCollection", "features": [out]}


def test_a_circle_radius_may_be_a_property_and_rings_come_out_closed(
    api: TestClient, admin: dict[str, str], subject: str
) -> None:
    feature = circle_zone(subject, "z-1")
    feature["geometry"].pop("radius_m")
    feature["properties"]["radius_m"] = 90.0
    out = created(api.post("/api/v1/zones", json=feature, headers=admin))
    assert out["geometry"]["radius_m"] == 90.0
    assert out["properties"]["schedule"]["always"] is True
    open_ring = {"type": "Polygon", "coordinates": [SQUARE[:-1]]}
    polygon = {**circle_zone(subject, "z-2"), "geometry": open_ring}
    out = created(api.post("/api/v1/zones", json=polygon, headers=admin))
    assert out["geometry"]["coordinates"] == [SQUARE]


def test_a_zone_is_changed_in_part_and_deleted(
    api: TestClient, admin: dict[str, str], subject: str
) -> None:
    created(api.post("/api/v1/zones", json=circle_zone(subject, "z-1"), headers=admin))
    patch = {"properties": {"name": "renamed", "kind": "inclusion"}}
    out = api.patch("/api/v1/zones/z-1", json=patch, headers=admin).json()
    assert out["properties"]["name"] == "renamed" and out["properties"]["kind"] == "inclusion"
    assert out["geometry"]["radius_m"] == 200.0
    moved = {"geometry": GEOMETRIES["polygon"], "properties": {"schedule": EVERY_NIGHT}}
    out = api.patch("/api/v1/zones/z-1", json=moved, headers=admin).json()
    assert out["geometry"] == GEOMETRIES["polygon"] and out["properties"]["name"] == "renamed"
    assert out["properties"]["schedule"]["always"] is False
    assert api.delete("/api/v1/zones/z-1", headers=admin).status_code == 204
    assert api.get("/api/v1/zones/z-1", headers=admin).status_code == 404
    assert api.delete("/api/v1/zones/z-1", headers=admin).status_code == 404


BAD_ZONES: list[tuple[str, Any]] = [
    ("no radius", {"geometry": {"type": "Point", "coordinates": [0.1, 51.0]}}),
    (
        "negative radius",
        {"geometry": {"type": "Point", "coordinates": [0.1, 51.0], "radius_m": -5}},
    ),
    ("two-point ring", {"geometry": {"type": "Polygon", "coordinates": [[[0, 51], [1, 51]]]}}),
    ("no coordinates", {"geometry": {"type": "Polygon"}}),
    ("garbage coordinates", {"geometry": {"type": "Polygon", "coordinates": [["a", "b", "c"]]}}),
    ("a point as a ring", {"geometry": {"type": "Polygon", "coordinates": [1, 2, 3]}}),
    ("unsupported geometry", {"geometry": {"type": "GeometryCollection", "coordinates": []}}),
    ("not a feature", {"type": "Polygon"}),
    ("unknown kind", {"properties": {"subject_id": "s-1", "kind": "forbidden"}}),
    ("unknown subject", {"properties": {"subject_id": "nobody", "kind": "exclusion"}}),
    ("unknown order", {"properties": {"subject_id": "s-1", "kind": "exclusion", "order_id": "o"}}),
    ("negative dwell", {"properties": {"subject_id": "s-1", "kind": "exclusion", "dwell_s": -1}}),
    ("unknown property", {"properties": {"subject_id": "s-1", "kind": "exclusion", "x": 1}}),
    (
        "bad schedule",
        {
            "properties": {
                "subject_id": "s-1",
                "kind": "exclusion",
                "schedule": {"windows": [{"weekday": 7, "start": "19:00", "end": "07:00"}]},
            }
        },
    ),
    (
        "bad time zone",
        {
            "properties": {
                "subject_id": "s-1",
                "kind": "exclusion",
                "schedule": {"time_zone": "Nowhere/Else"},
            }
        },
    ),
    (
        "backwards exception",
        {
            "properties": {
                "subject_id": "s-1",
                "kind": "exclusion",
                "schedule": {
                    "exceptions": [{"start": "2026-12-25T16:00:00Z", "end": "2026-12-25T10:00:00Z"}]
                },
            }
        },
    ),
]


@pytest.mark.parametrize(("why", "change"), BAD_ZONES, ids=[why for why, _ in BAD_ZONES])
def test_a_bad_zone_is_422_with_a_message(
    api: TestClient, admin: dict[str, str], subject: str, why: str, change: dict[str, Any]
) -> None:
    feature = {**circle_zone(subject, "z-1"), **change}
    answer = api.post("/api/v1/zones", json=feature, headers=admin)
    assert answer.status_code == 422, (why, answer.text)
    assert answer.json()["detail"]


def test_a_duplicate_zone_is_409(api: TestClient, admin: dict[str, str], subject: str) -> None:
    created(api.post("/api/v1/zones", json=circle_zone(subject, "z-1"), headers=admin))
    assert (
        api.post("/api/v1/zones", json=circle_zone(subject, "z-1"), headers=admin).status_code
        == 409
    )


def test_a_curfew_round_trips(api: TestClient, admin: dict[str, str], subject: str) -> None:
    created(
        api.post(
            "/api/v1/devices", json={"id": "hmu-1", "kind": "home_monitoring_unit"}, headers=admin
        )
    )
    body = {
        "id": "c-1",
        "subject_id": subject,
        "address": GEOMETRIES["circle"],
        "schedule": EVERY_NIGHT,
        "order_id": "",
        "beacon_device_id": "hmu-1",
        "dwell_s": 300.0,
        "release_s": 120.0,
    }
    out = created(api.post("/api/v1/curfews", json=body, headers=admin))
    assert out == {**body, "schedule": {**EVERY_NIGHT, "always": False}}
    assert api.get("/api/v1/curfews/c-1", headers=admin).json() == out
    changed = api.patch("/api/v1/curfews/c-1", json={"beacon_device_id": None}, headers=admin)
    assert changed.json()["beacon_device_id"] is None
    assert [c["id"] for c in api.get("/api/v1/curfews", headers=admin).json()] == ["c-1"]
    assert api.delete("/api/v1/curfews/c-1", headers=admin).status_code == 204
    assert api.get("/api/v1/curfews/c-1", headers=admin).status_code == 404
    no_schedule = {k: v for k, v in body.items() if k != "schedule"}
    assert api.post("/api/v1/curfews", json=no_schedule, headers=admin).status_code == 422


def test_an_appointment_round_trips(api: TestClient, admin: dict[str, str], subject: str) -> None:
    body = {
        "id": "a-1",
        "subject_id": subject,
        "place": GEOMETRIES["polygon"],
        "start": "2026-11-06T10:00:00Z",
        "end": "2026-11-06T11:00:00Z",
        "grace_s": 300.0,
        "name": "drug treatment session",
        "order_id": "",
    }
    assert created(api.post("/api/v1/appointments", json=body, headers=admin)) == body
    later = {"start": "2026-11-06T12:00:00+00:00", "end": "2026-11-06T13:00:00Z"}
    out = api.patch("/api/v1/appointments/a-1", json=later, headers=admin).json()
    assert (out["start"], out["end"]) == ("2026-11-06T12:00:00Z", "2026-11-06T13:00:00Z")
    backwards = {"end": "2026-11-06T09:00:00Z"}
    assert api.patch("/api/v1/appointments/a-1", json=backwards, headers=admin).status_code == 422
    listed = api.get("/api/v1/appointments", params={"subject_id": subject}, headers=admin).json()
    assert [a["id"] for a in listed] == ["a-1"]
    assert api.delete("/api/v1/appointments/a-1", headers=admin).status_code == 204
    bad = {**body, "end": body["start"]}
    assert api.post("/api/v1/appointments", json=bad, headers=admin).status_code == 422
