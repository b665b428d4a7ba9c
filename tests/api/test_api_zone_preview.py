"""Requirement preview: a draft zone or curfew judged by the real engine over the subject's
stored trail, through the query service (scope, purpose, audit), saving nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apikit import ST_ALBANS, T0, add_tagged_subject, circle_zone, offset
from fastapi.testclient import TestClient

from tagwatch.domain.positions import Fix

PREVIEW = "/api/v1/subjects/subject-1/zone-preview"
WHY = {"purpose_code": "monitoring", "purpose": "zone editor preview, case 42"}


def _store_trail(stack: Any, visits: list[datetime]) -> int:
    """Fixes every minute for the last 12 days, 2 km from St Albans except for 10-minute
    visits to its centre starting at each of `visits`."""
    far = offset(*ST_ALBANS, east_m=2000, north_m=0)
    fixes = []
    moment = T0 - timedelta(days=12)
    while moment <= T0:
        inside = any(start <= moment < start + timedelta(minutes=10) for start in visits)
        lon, lat = ST_ALBANS if inside else far
        fixes.append(Fix("tag-1", moment, lat, lon, 5.0, received_at=moment))
        moment += timedelta(minutes=1)
    with stack.services.store.transaction() as tx:
        tx.fixes.add_fixes(fixes)
    return len(fixes)


def _draft(**properties: Any) -> dict[str, Any]:
    zone = circle_zone(radius_m=200.0)
    zone.pop("id")
    zone["properties"].update(properties)
    return zone


def test_preview_counts_one_alert_per_visit_over_the_stored_trail(
    api: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin)
    visits = [T0 - timedelta(days=10, hours=3), T0 - timedelta(days=3, hours=5)]
    stored = _store_trail(stack, visits)

    answer = api.post(PREVIEW, params=WHY, json=_draft(), headers=admin)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["alerts"] == 2
    assert body["fixes"] == stored
    starts = [datetime.fromisoformat(e["start"]) for e in body["episodes"]]
    for visit, start in zip(visits, starts, strict=True):
        assert visit <= start < visit + timedelta(minutes=10)
    # A preview saves nothing.
    zones = api.get("/api/v1/zones", params={"subject_id": "subject-1"}, headers=admin)
    assert zones.json()["features"] == []


def test_preview_honours_the_schedule_and_the_days_asked_for(
    api: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin)
    # Both visits on a Thursday/Sunday afternoon, London time (GMT in November).
    visits = [T0 - timedelta(days=7, hours=5), T0 - timedelta(days=4, hours=5)]
    _store_trail(stack, visits)
    nights_only = {
        "windows": [{"weekday": day, "start": "22:00", "end": "06:00"} for day in range(7)]
    }

    scheduled = api.post(PREVIEW, params=WHY, json=_draft(schedule=nights_only), headers=admin)
    recent = api.post(PREVIEW, params={**WHY, "days": 5}, json=_draft(), headers=admin)

    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["alerts"] == 0
    assert recent.json()["alerts"] == 1


def test_preview_elsewhere_or_without_fixes_raises_nothing(
    api: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin)
    empty = api.post(PREVIEW, params=WHY, json=_draft(), headers=admin)
    assert empty.json() | {"start": None, "end": None} == {
        "subject_id": "subject-1",
        "requirement_id": empty.json()["requirement_id"],
        "start": None,
        "end": None,
        "fixes": 0,
        "alerts": 0,
        "warnings": 0,
        "episodes": [],
    }
    _store_trail(stack, [])
    elsewhere = _draft()
    elsewhere["geometry"]["coordinates"] = list(offset(*ST_ALBANS, east_m=-5000, north_m=0))
    assert api.post(PREVIEW, params=WHY, json=elsewhere, headers=admin).json()["alerts"] == 0


def test_bad_previews_are_refused_with_a_reason(
    api: TestClient, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    add_tagged_subject(api, admin)
    other = api.post(PREVIEW, params=WHY, json=_draft(subject_id="someone-else"), headers=admin)
    assert other.status_code == 422
    assert "subject" in other.json()["detail"]
    unknown = api.post(
        "/api/v1/subjects/nobody/zone-preview",
        params=WHY,
        json=_draft(subject_id="nobody"),
        headers=admin,
    )
    assert unknown.status_code == 404
    assert api.post(PREVIEW, params=WHY, json=_draft()).status_code == 401
    # A viewer may not read a subject's history, so may not replay it either.
    assert api.post(PREVIEW, params=WHY, json=_draft(), headers=viewer).status_code == 403
    # Reading the subject's history needs a stated purpose, as a trail does.
    unexplained = api.post(PREVIEW, json=_draft(), headers=admin)
    assert unexplained.status_code == 422
    assert "purpose" in unexplained.json()["detail"]
    assert (
        api.post(PREVIEW, params={**WHY, "days": 0}, json=_draft(), headers=admin).status_code
        == 422
    )
    malformed = _draft()
    malformed["geometry"] = {"type": "Polygon", "coordinates": [[1, 2]]}
    assert api.post(PREVIEW, params=WHY, json=malformed, headers=admin).status_code == 422


def test_a_draft_curfew_is_previewed_like_a_zone(
    api: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin)
    # Home is 2 km east of St Albans, where the trail stays except for its visits; one visit
    # is at 23:00 on a Monday, inside the 22:00-06:00 curfew, one in an afternoon.
    night, afternoon = T0 - timedelta(days=3) + timedelta(hours=3), T0 - timedelta(hours=5)
    _store_trail(stack, [night, afternoon])
    home = {"type": "Point", "coordinates": list(offset(*ST_ALBANS, 2000, 0)), "radius_m": 150}
    draft = {
        "subject_id": "subject-1",
        "address": home,
        "schedule": {
            "windows": [{"weekday": d, "start": "22:00", "end": "06:00"} for d in range(7)]
        },
    }

    answer = api.post(
        "/api/v1/subjects/subject-1/curfew-preview", params=WHY, json=draft, headers=admin
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["alerts"] == 1
    episode = body["episodes"][0]
    assert episode["rule"] == "curfew"
    assert night <= datetime.fromisoformat(episode["start"]) < night + timedelta(minutes=10)
    assert api.get("/api/v1/curfews", headers=admin).json() == []
