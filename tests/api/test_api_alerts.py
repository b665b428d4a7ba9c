"""The alert queue: filters, cursor pagination, detail with history, and the workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from apikit import ST_ALBANS, T0, add_tagged_subject, circle_zone, created
from fastapi.testclient import TestClient

from tagwatch.domain.episodes import Episode, RuleKind, episode_id
from tagwatch.store.records import AlertDraft, AlertSeverity


def _seed_alert(stack: Any, n: int, *, subject_id: str, severity: AlertSeverity) -> str:
    """An episode and its alert, created n minutes after T0 (straight into the store)."""
    start = T0 + timedelta(minutes=n)
    episode = Episode(
        id=episode_id("tag-1", RuleKind.EXCLUSION, "zone-1", start),
        device_id="tag-1",
        subject_id=subject_id,
        rule=RuleKind.EXCLUSION,
        requirement_id="zone-1",
        start=start,
        end=None,
        confirmed_at=start,
        deepest_penetration_m=12.0,
        confidence=0.9,
        evidence=(start,),
    )
    store = stack.services.store
    with store.transaction() as tx:
        tx.episodes.upsert_episodes([episode])
        draft = AlertDraft(
            episode.id, subject_id, "tag-1", episode.rule, "zone-1", severity, start, start, False
        )
        alert = tx.alerts.upsert_alert_for_episode(draft, now=start).alert
    return alert.id


@pytest.fixture
def queue(stack: Any) -> list[str]:
    """Ten alerts, newest last: even ones of subject s-1 and high, odd of s-2 and low."""
    return [
        _seed_alert(
            stack,
            n,
            subject_id="s-1" if n % 2 == 0 else "s-2",
            severity=AlertSeverity.HIGH if n % 2 == 0 else AlertSeverity.LOW,
        )
        for n in range(10)
    ]


def test_alerts_come_newest_first_in_pages_that_neither_skip_nor_repeat(
    api: TestClient, viewer: dict[str, str], queue: list[str], stack: Any
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/alerts", params=params, headers=viewer).json()
        seen += [alert["id"] for alert in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        _seed_alert(stack, 100 + len(seen), subject_id="s-1", severity=AlertSeverity.LOW)
    assert seen == list(reversed(queue))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"subject_id": "s-1"}, [8, 6, 4, 2, 0]),
        ({"severity": "low"}, [9, 7, 5, 3, 1]),
        ({"severity": ["low", "high"], "since": "2026-11-05T20:07:00Z"}, [9, 8, 7]),
        ({"since": "2026-11-05T21:07:00+01:00"}, [9, 8, 7]),
        ({"state": "acknowledged"}, []),
        ({"state": ["new", "resolved"], "subject_id": "s-2", "limit": 2}, [9, 7]),
    ],
)
def test_alerts_are_filtered(
    api: TestClient,
    viewer: dict[str, str],
    queue: list[str],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    page = api.get("/api/v1/alerts", params=params, headers=viewer).json()
    assert [alert["id"] for alert in page["items"]] == [queue[n] for n in expected]


@pytest.mark.parametrize(
    "params",
    [
        {"state": "pending"},
        {"severity": "urgent"},
        {"limit": 0},
        {"limit": 10_000},
        {"since": "2026-11-05T20:00:00"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_alert_filters_are_422(
    api: TestClient, viewer: dict[str, str], params: dict[str, Any]
) -> None:
    answer = api.get("/api/v1/alerts", params=params, headers=viewer)
    assert answer.status_code == 422
    assert answer.json()["detail"]


def test_an_alert_is_worked_through_acknowledge_escalate_resolve(
    api: TestClient, operator: dict[str, str], queue: list[str], stack: Any
) -> None:
    alert_id = queue[0]
    detail = api.get(f"/api/v1/alerts/{alert_id}", headers=operator).json()
    assert detail["state"] == "new"
    assert detail["allowed_actions"] == ["acknowledge", "escalate", "note"]
    assert detail["episode"]["deepest_penetration_m"] == 12.0

    def act(**body: Any) -> Any:
        return api.post(f"/api/v1/alerts/{alert_id}/actions", json=body, headers=operator)

    resolved_too_soon = act(action="resolve", note="fine", outcome="false_alert")
    assert resolved_too_soon.status_code == 409
    assert "cannot resolve" in resolved_too_soon.json()["detail"]

    stack.clock.advance(seconds=30)
    answer = act(action="acknowledge", note="called the subject")
    assert answer.status_code == 200 and answer.json()["state"] == "acknowledged"
    assert act(action="acknowledge", note="again").status_code == 409
    assert act(action="note", note="no answer on the phone").json()["state"] == "acknowledged"
    assert act(action="escalate", note="police informed").json()["state"] == "escalated"
    assert act(action="resolve", note="x").status_code == 409  # no outcome
    done = act(action="resolve", note="subject arrested", outcome="confirmed_breach").json()
    assert (done["state"], done["outcome"]) == ("resolved", "confirmed_breach")

    detail = api.get(f"/api/v1/alerts/{alert_id}", headers=operator).json()
    history = [(h["action"], h["from_state"], h["to_state"]) for h in detail["history"]]
    assert history == [
        ("acknowledge", "new", "acknowledged"),
        ("note", "acknowledged", "acknowledged"),
        ("escalate", "acknowledged", "escalated"),
        ("resolve", "escalated", "resolved"),
    ]
    operator_name = api.get("/api/v1/auth/me", headers=operator).json()["username"]
    assert {h["actor"] for h in detail["history"]} == {operator_name}
    assert detail["history"][0]["at"] == "2026-11-05T20:00:30Z"
    assert detail["allowed_actions"] == ["reopen", "note"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "acknowledge"},
        {"action": "acknowledge", "note": ""},
        {"action": "shred", "note": "x"},
        {"action": "resolve", "note": "x", "outcome": "guilty"},
        {"action": "acknowledge", "note": "x", "who": "me"},
    ],
)
def test_malformed_actions_are_422(
    api: TestClient, operator: dict[str, str], queue: list[str], body: dict[str, Any]
) -> None:
    answer = api.post(f"/api/v1/alerts/{queue[0]}/actions", json=body, headers=operator)
    assert answer.status_code == 422


def test_an_outcome_on_acknowledge_is_409(
    api: TestClient, operator: dict[str, str], queue: list[str]
) -> None:
    body = {"action": "acknowledge", "note": "x", "outcome": "false_alert"}
    assert (
        api.post(f"/api/v1/alerts/{queue[0]}/actions", json=body, headers=operator).status_code
        == 409
    )


def test_an_unknown_alert_is_404(api: TestClient, operator: dict[str, str]) -> None:
    assert api.get("/api/v1/alerts/nope", headers=operator).status_code == 404


def test_a_breach_reported_over_osmand_raises_one_alert(
    api: TestClient, osmand: TestClient, admin: dict[str, str], stack: Any
) -> None:
    add_tagged_subject(api, admin, "s-1", "tag-1")
    created(api.post("/api/v1/zones", json=circle_zone("s-1", "zone-1", 300.0), headers=admin))
    lon, lat = ST_ALBANS
    for second in (0, 30, 60):
        stamp = int((T0 + timedelta(seconds=second)).timestamp())
        answer = osmand.get(f"/?id=tag-1&timestamp={stamp}&lat={lat}&lon={lon}&accuracy=5")
        assert answer.status_code == 200
    stack.clock.advance(seconds=61)
    stack.services.monitor.run_once()
    page = api.get("/api/v1/alerts", headers=admin).json()
    assert len(page["items"]) == 1
    alert = page["items"][0]
    assert (alert["rule"], alert["requirement_id"], alert["state"]) == (
        "exclusion",
        "zone-1",
        "new",
    )
    assert alert["occurred_at"] == "2026-11-05T20:00:00Z"
    detail = api.get(f"/api/v1/alerts/{alert['id']}", headers=admin).json()
    assert [h["action"] for h in detail["history"]] == ["raised"]
