"""Signing in, tokens, and the coarse rules of who may do what: every route but a few needs
a signed-in user; the full role x organisation table is tested in test_authz_matrix.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from apikit import PASSWORD, T0, add_subject, seed_alert, sign_in
from fastapi.testclient import TestClient

from tagwatch.service.auth import TokenSigner
from tagwatch.store.records import UserRole

OPEN = {
    ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/auth/refresh"),  # a refresh token instead
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/health"),
    ("get", "/metrics"),
    ("post", "/api/v1/ingest/batch"),  # device credentials instead
}


def _operations(api: TestClient) -> list[tuple[str, str]]:
    schema = api.get("/api/v1/openapi.json").json()
    assert "/metrics" in schema["paths"]
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_the_docs_and_the_schema_are_served(api: TestClient) -> None:
    assert api.get("/docs").status_code == 200
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/alerts/{alert_id}/actions" in paths
    assert "/api/v1/stream" in paths


def test_every_route_but_the_open_ones_needs_a_login(api: TestClient) -> None:
    operations = _operations(api)
    assert len(operations) > 30
    for method, path in operations:
        if (method, path) in OPEN:
            continue
        answer = api.request(method.upper(), _fill(path), json={})
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["detail"]


def test_a_password_gives_a_token_that_says_who_i_am(api: TestClient, stack: Any) -> None:
    stack.services.store.users.create_user("olive", PASSWORD, UserRole.OPERATOR, now=T0)
    answer = api.post("/api/v1/auth/token", data={"username": "olive", "password": PASSWORD})
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "bearer"  # noqa: S105 - not a password
    assert token["expires_at"] == "2026-11-05T20:15:00Z"  # 15 min after the held clock
    assert token["refresh_expires_at"] == "2026-11-06T08:00:00Z"  # a 12 h shift
    assert token["refresh_token"]
    me = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json() == {
        "username": "olive",
        "role": "monitoring_operator",  # "operator" before organisations: the same role
        "organisation_id": "default",
        "created_at": "2026-11-05T20:00:00Z",
    }


@pytest.mark.parametrize(
    ("username", "password"), [("olive", "wrong password"), ("nobody", PASSWORD), ("olive", "")]
)
def test_a_wrong_password_or_user_gets_401(
    api: TestClient, stack: Any, username: str, password: str
) -> None:
    stack.services.store.users.create_user("olive", PASSWORD, UserRole.OPERATOR, now=T0)
    answer = api.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert answer.status_code in (401, 422)
    assert answer.status_code == 401 or password == ""


def test_a_token_login_needs_form_fields(api: TestClient) -> None:
    assert api.post("/api/v1/auth/token", data={"username": "x"}).status_code == 422


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b", "e30.AAAA", "eyJzdWIiOiJ4In0.c2lnbmF0dXJl"],
)
def test_a_malformed_or_forged_token_gets_401(api: TestClient, token: str) -> None:
    answer = api.get("/api/v1/subjects", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_a_token_signed_with_another_key_gets_401(api: TestClient, stack: Any) -> None:
    stack.services.store.users.create_user("olive", PASSWORD, UserRole.ADMIN, now=T0)
    forged = TokenSigner(b"x" * 32).issue("olive", now=T0).token
    answer = api.get("/api/v1/subjects", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


def test_a_token_expires(api: TestClient, stack: Any, viewer: dict[str, str]) -> None:
    assert api.get("/api/v1/subjects", headers=viewer).status_code == 200
    stack.clock.advance(timedelta(minutes=15))
    answer = api.get("/api/v1/subjects", headers=viewer)
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_deleted_user_is_signed_out_at_once(
    api: TestClient, stack: Any, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    me = api.get("/api/v1/auth/me", headers=viewer).json()["username"]
    assert api.delete(f"/api/v1/users/{me}", headers=admin).status_code == 204
    assert api.get("/api/v1/subjects", headers=viewer).status_code == 401


def test_a_lowered_role_applies_to_tokens_already_issued(
    api: TestClient, stack: Any, admin: dict[str, str]
) -> None:
    other_admin = sign_in(api, stack.services, UserRole.ADMIN)
    name = api.get("/api/v1/auth/me", headers=other_admin).json()["username"]
    answer = api.patch(f"/api/v1/users/{name}", json={"role": "viewer"}, headers=admin)
    assert answer.json()["role"] == "viewer"
    assert api.get("/api/v1/users", headers=other_admin).status_code == 403


MANAGING = [
    ("POST", "/api/v1/subjects", {"name": "Sam"}),
    ("PATCH", "/api/v1/subjects/subject-1", {"name": "Sam"}),
    ("POST", "/api/v1/devices", {"id": "tag-9"}),
    ("GET", "/api/v1/unknown-devices", None),
    ("POST", "/api/v1/users", {"username": "u1", "password": "long enough", "role": "viewer"}),
    (
        "POST",
        "/api/v1/orders",
        {"subject_id": "subject-1", "order_type": "licence", "start": "2026-01-01T00:00:00Z"},
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), MANAGING)
def test_viewers_do_not_manage(
    api: TestClient,
    admin: dict[str, str],
    viewer: dict[str, str],
    method: str,
    path: str,
    body: Any,
) -> None:
    add_subject(api, admin)
    answer = api.request(method, path, json=body, headers=viewer)
    assert answer.status_code == 403, answer.text
    assert "viewer" in answer.json()["detail"]


def test_working_alerts_needs_a_role_that_works_them(
    api: TestClient,
    stack: Any,
    admin: dict[str, str],
    viewer: dict[str, str],
    operator: dict[str, str],
) -> None:
    alert_id = seed_alert(stack, api, admin)
    body = {"action": "acknowledge", "note": "called the subject"}
    answer = api.post(f"/api/v1/alerts/{alert_id}/actions", json=body, headers=viewer)
    assert answer.status_code == 403
    assert api.post("/api/v1/alerts/nope/actions", json=body, headers=operator).status_code == 404
    answer = api.post(f"/api/v1/alerts/{alert_id}/actions", json=body, headers=operator)
    assert answer.status_code == 200
    assert answer.json()["state"] == "acknowledged"


def test_viewers_read(api: TestClient, admin: dict[str, str], viewer: dict[str, str]) -> None:
    add_subject(api, admin)
    for path in (
        "/api/v1/subjects",
        "/api/v1/subjects/subject-1",
        "/api/v1/devices",
        "/api/v1/orders",
        "/api/v1/zones",
        "/api/v1/curfews",
        "/api/v1/appointments",
        "/api/v1/assignments",
        "/api/v1/positions",
        "/api/v1/alerts",
    ):
        assert api.get(path, headers=viewer).status_code == 200, path


def test_users_are_managed_by_admins(api: TestClient, admin: dict[str, str]) -> None:
    body = {"username": "vera", "password": "long enough", "role": "viewer"}
    assert api.post("/api/v1/users", json=body, headers=admin).status_code == 201
    assert api.post("/api/v1/users", json=body, headers=admin).status_code == 409
    short = {"username": "x", "password": "short"}
    assert api.post("/api/v1/users", json=short, headers=admin).status_code == 422
    assert api.get("/api/v1/users/vera", headers=admin).json()["role"] == "viewer"
    names = [u["username"] for u in api.get("/api/v1/users", headers=admin).json()]
    assert "vera" in names
    answer = api.patch("/api/v1/users/vera", json={"password": "another long one"}, headers=admin)
    assert answer.status_code == 200
    login = api.post(
        "/api/v1/auth/token", data={"username": "vera", "password": "another long one"}
    )
    assert login.status_code == 200
    assert api.delete("/api/v1/users/vera", headers=admin).status_code == 204
    assert api.get("/api/v1/users/vera", headers=admin).status_code == 404


def test_the_last_admin_cannot_be_removed_or_demoted(
    api: TestClient, admin: dict[str, str]
) -> None:
    me = api.get("/api/v1/auth/me", headers=admin).json()["username"]
    assert (
        api.patch(f"/api/v1/users/{me}", json={"role": "viewer"}, headers=admin).status_code == 409
    )
    assert api.delete(f"/api/v1/users/{me}", headers=admin).status_code == 409
