"""Subjects, devices (with secrets), assignments and orders through the API."""

from __future__ import annotations

from typing import Any

from apikit import T0, add_subject, add_tagged_subject, created
from fastapi.testclient import TestClient


def test_a_subject_round_trips(api: TestClient, admin: dict[str, str]) -> None:
    body = {"id": "s-1", "name": "Sam Example", "risk_level": "high", "reference": "PNC 1"}
    assert created(api.post("/api/v1/subjects", json=body, headers=admin)) == body
    assert api.get("/api/v1/subjects/s-1", headers=admin).json() == body
    changed = api.patch("/api/v1/subjects/s-1", json={"risk_level": "very_high"}, headers=admin)
    assert changed.json() == {**body, "risk_level": "very_high"}
    assert api.get("/api/v1/subjects", headers=admin).json() == [changed.json()]


def test_a_subject_without_an_id_gets_one(api: TestClient, admin: dict[str, str]) -> None:
    subject = created(api.post("/api/v1/subjects", json={"name": "Sam"}, headers=admin))
    assert subject["id"] and subject["risk_level"] == "medium"


def test_subject_mistakes_are_4xx(api: TestClient, admin: dict[str, str]) -> None:
    add_subject(api, admin, "s-1")
    again = api.post("/api/v1/subjects", json={"id": "s-1", "name": "Sam"}, headers=admin)
    assert again.status_code == 409
    assert api.get("/api/v1/subjects/nobody", headers=admin).status_code == 404
    assert (
        api.patch("/api/v1/subjects/nobody", json={"name": "x"}, headers=admin).status_code == 404
    )
    for bad in ({"name": ""}, {"name": "x", "risk_level": "extreme"}, {"name": "x", "shoe": 9}):
        assert api.post("/api/v1/subjects", json=bad, headers=admin).status_code == 422, bad
    assert api.patch("/api/v1/subjects/s-1", json={"name": None}, headers=admin).status_code == 422
    answer = api.post(
        "/api/v1/subjects",
        content=b"{not json",
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 422


def test_a_device_round_trips_with_its_secret_and_assignment(
    api: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    device = api.get("/api/v1/devices/tag-1", headers=admin).json()
    assert device == {
        "id": "tag-1",
        "kind": "tag",
        "protocol": "osmand",
        "label": "",
        "has_secret": False,
        "secret_set_at": None,
        "subject_id": "s-1",
    }
    answer = api.patch("/api/v1/devices/tag-1", json={"label": "left ankle"}, headers=admin)
    assert answer.json()["label"] == "left ankle"

    chosen = api.put(
        "/api/v1/devices/tag-1/secret", json={"secret": "a long device secret"}, headers=admin
    )
    assert chosen.json() == {"device_id": "tag-1", "secret": "a long device secret"}
    assert stack.services.store.devices.verify_device_secret("tag-1", "a long device secret")
    generated = api.put("/api/v1/devices/tag-1/secret", json={}, headers=admin).json()["secret"]
    assert len(generated) >= 24
    assert stack.services.store.devices.verify_device_secret("tag-1", generated)
    detail = api.get("/api/v1/devices/tag-1", headers=admin).json()
    assert detail["has_secret"] is True and detail["secret_set_at"] == "2026-11-05T20:00:00Z"  # noqa: S105
    assert api.delete("/api/v1/devices/tag-1/secret", headers=admin).status_code == 204
    assert api.delete("/api/v1/devices/tag-1/secret", headers=admin).status_code == 404
    short = api.put("/api/v1/devices/tag-1/secret", json={"secret": "short"}, headers=admin)
    assert short.status_code == 422


def test_device_mistakes_are_4xx(api: TestClient, admin: dict[str, str]) -> None:
    created(api.post("/api/v1/devices", json={"id": "tag-1"}, headers=admin))
    assert api.post("/api/v1/devices", json={"id": "tag-1"}, headers=admin).status_code == 409
    assert api.post("/api/v1/devices", json={"id": " padded"}, headers=admin).status_code == 422
    assert (
        api.post("/api/v1/devices", json={"id": "t", "kind": "x"}, headers=admin).status_code == 422
    )
    assert api.get("/api/v1/devices/nope", headers=admin).status_code == 404
    assert api.put("/api/v1/devices/nope/secret", json={}, headers=admin).status_code == 404


def test_unknown_devices_are_listed_for_admins_until_registered(
    api: TestClient, osmand: TestClient, admin: dict[str, str]
) -> None:
    for _ in range(2):
        assert osmand.get("/?id=stranger&lat=51.75&lon=-0.33").status_code == 403
    listed = api.get("/api/v1/unknown-devices", headers=admin).json()
    assert [(d["device_id"], d["count"]) for d in listed] == [("stranger", 2)]
    assert listed[0]["first_seen"] == "2026-11-05T20:00:00Z"
    created(api.post("/api/v1/devices", json={"id": "stranger"}, headers=admin))
    assert api.get("/api/v1/unknown-devices", headers=admin).json() == []


def test_assignments_are_listed_and_ended(api: TestClient, admin: dict[str, str]) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1", start=T0.replace(day=1))
    listed = api.get("/api/v1/assignments", params={"subject_id": "s-1"}, headers=admin).json()
    assert listed == [
        {"device_id": "tag-1", "subject_id": "s-1", "start": "2026-11-01T20:00:00Z", "end": None}
    ]
    ended = api.post("/api/v1/assignments/end", json={"device_id": "tag-1"}, headers=admin)
    assert ended.json()["end"] == "2026-11-05T20:00:00Z"  # the held clock's now
    assert api.get("/api/v1/assignments", params={"at": T0.isoformat()}, headers=admin).json() == []
    again = api.post("/api/v1/assignments/end", json={"device_id": "tag-1"}, headers=admin)
    assert again.status_code == 404


def test_assignment_mistakes_are_4xx(api: TestClient, admin: dict[str, str]) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    add_subject(api, admin, "s-2")
    overlap = {"device_id": "tag-1", "subject_id": "s-2", "start": T0.isoformat()}
    assert api.post("/api/v1/assignments", json=overlap, headers=admin).status_code == 409
    unknown = {"device_id": "nope", "subject_id": "s-2"}
    assert api.post("/api/v1/assignments", json=unknown, headers=admin).status_code == 404
    naive = {"device_id": "tag-1", "subject_id": "s-2", "start": "2026-11-05T20:00:00"}
    assert api.post("/api/v1/assignments", json=naive, headers=admin).status_code == 422
    backwards = {**overlap, "start": "2027-01-02T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
    assert api.post("/api/v1/assignments", json=backwards, headers=admin).status_code == 422


def test_an_order_round_trips(api: TestClient, admin: dict[str, str]) -> None:
    add_subject(api, admin, "s-1")
    body = {
        "id": "o-1",
        "subject_id": "s-1",
        "order_type": "home_detention_curfew",
        "start": "2026-11-01T00:00:00Z",
        "end": None,
        "time_zone": "Europe/London",
        "reference": "T20260001",
        "conditions": ["curfew 19:00-07:00", "exclusion: Hatfield"],
    }
    assert created(api.post("/api/v1/orders", json=body, headers=admin)) == body
    assert api.get("/api/v1/orders/o-1", headers=admin).json() == body
    end = {"end": "2027-05-01T00:00:00+01:00"}
    assert (
        api.patch("/api/v1/orders/o-1", json=end, headers=admin).json()["end"]
        == "2027-04-30T23:00:00Z"
    )
    open_again = api.patch("/api/v1/orders/o-1", json={"end": None}, headers=admin)
    assert open_again.json()["end"] is None
    listed = api.get("/api/v1/orders", params={"subject_id": "s-1"}, headers=admin).json()
    assert [o["id"] for o in listed] == ["o-1"]


def test_order_mistakes_are_4xx(api: TestClient, admin: dict[str, str]) -> None:
    add_subject(api, admin, "s-1")
    good = {
        "id": "o-1",
        "subject_id": "s-1",
        "order_type": "licence",
        "start": "2026-11-01T00:00:00Z",
    }
    created(api.post("/api/v1/orders", json=good, headers=admin))
    assert api.post("/api/v1/orders", json=good, headers=admin).status_code == 409
    cases: list[dict[str, Any]] = [
        {**good, "id": "o-2", "subject_id": "nobody"},
        {**good, "id": "o-2", "order_type": "parole"},
        {**good, "id": "o-2", "time_zone": "Mars/Olympus"},
        {**good, "id": "o-2", "end": "2026-10-01T00:00:00Z"},
    ]
    for bad in cases:
        assert api.post("/api/v1/orders", json=bad, headers=admin).status_code == 422, bad
    before = {"end": "2026-10-01T00:00:00Z"}
    assert api.patch("/api/v1/orders/o-1", json=before, headers=admin).status_code == 422
    assert api.patch("/api/v1/orders/o-1", json={"start": None}, headers=admin).status_code == 422
    assert api.get("/api/v1/orders/nope", headers=admin).status_code == 404
