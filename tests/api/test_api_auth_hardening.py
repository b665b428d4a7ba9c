"""Sign-in hardening: refresh tokens rotated on use and revocable, lockout after repeated
failures, rate limits on sign-in and on device reports, device secret rotation with a grace
period, and the security headers of API answers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apikit import PASSWORD, T0, TEST_KEY, Stack, make_stack
from fastapi.testclient import TestClient

from servicekit import Ticks
from tagwatch.api import ApiContext, ApiSettings, create_app
from tagwatch.api.osmand import create_osmand_app
from tagwatch.domain.people import Device
from tagwatch.service.auth import LOCKOUT_AFTER, AuthService, DeviceSecrets, TokenSigner
from tagwatch.service.ratelimit import TokenBuckets
from tagwatch.store.records import UserRole


def _login(api: TestClient, username: str = "olive", password: str = PASSWORD) -> Any:
    return api.post("/api/v1/auth/token", data={"username": username, "password": password})


@pytest.fixture
def olive(stack: Stack) -> str:
    stack.services.store.users.create_user("olive", PASSWORD, UserRole.VIEWER, now=T0)
    return "olive"


def _me(api: TestClient, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return api.get("/api/v1/auth/me", headers=headers).status_code


# -- refresh tokens ----------------------------------------------------------------------


def test_a_refresh_token_gives_a_new_pair_once(api: TestClient, stack: Stack, olive: str) -> None:
    first = _login(api).json()
    stack.clock.advance(timedelta(minutes=20))
    assert _me(api, first["access_token"]) == 401  # the access token lived 15 min
    second = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert _me(api, pair["access_token"]) == 200
    stored = stack.services.store.sign_ins
    assert stored.spend_refresh_token(first["refresh_token"], now=T0) is None  # only hashes


def test_a_refresh_token_used_twice_revokes_the_whole_sign_in(api: TestClient, olive: str) -> None:
    first = _login(api).json()
    second = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    stolen = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    assert "already used" in stolen.json()["detail"]
    # The legitimate holder's newer token is revoked too: the family is gone.
    again = api.post("/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert again.status_code == 401


def test_signing_out_revokes_the_refresh_token(api: TestClient, olive: str) -> None:
    pair = _login(api).json()
    body = {"refresh_token": pair["refresh_token"]}
    assert api.post("/api/v1/auth/logout", json=body).status_code == 204
    assert api.post("/api/v1/auth/refresh", json=body).status_code == 401


def test_a_refresh_token_expires_and_a_new_password_revokes_it(
    api: TestClient, stack: Stack, olive: str, admin: dict[str, str]
) -> None:
    old = _login(api).json()
    stack.clock.advance(timedelta(hours=12))
    expired = api.post("/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert expired.status_code == 401
    stack.clock.set(T0)
    pair = _login(api).json()
    token = TokenSigner(TEST_KEY).issue(admin_name(api, admin), now=T0).token
    changed = api.patch(
        "/api/v1/users/olive",
        json={"password": "a brand new one"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status_code == 200
    answer = api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert answer.status_code == 401


def admin_name(api: TestClient, admin: dict[str, str]) -> str:
    name: str = api.get("/api/v1/auth/me", headers=admin).json()["username"]
    return name


def test_an_unknown_refresh_token_is_401(api: TestClient) -> None:
    answer = api.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert answer.status_code == 401


# -- lockout -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["olive", "nobody"])
def test_repeated_failures_lock_the_username_then_it_opens_again(
    api: TestClient, stack: Stack, olive: str, username: str
) -> None:
    for _ in range(LOCKOUT_AFTER):
        assert _login(api, username, "wrong password").status_code == 401
    locked = _login(api, username, PASSWORD)
    assert locked.status_code == 429  # known or not, the same answer: no username oracle
    assert int(locked.headers["retry-after"]) >= 30
    assert "too many failed sign-ins" in locked.json()["detail"]
    stack.clock.advance(timedelta(seconds=31))
    assert _login(api, username, PASSWORD).status_code == (200 if username == "olive" else 401)


def test_the_lock_grows_with_each_further_failure_and_success_clears_it(
    api: TestClient, stack: Stack, olive: str
) -> None:
    for _ in range(LOCKOUT_AFTER):
        _login(api, "olive", "wrong password")
    stack.clock.advance(timedelta(seconds=31))
    assert _login(api, "olive", "wrong again").status_code == 401  # the sixth: 60 s now
    stack.clock.advance(timedelta(seconds=31))
    assert _login(api, "olive", PASSWORD).status_code == 429
    stack.clock.advance(timedelta(seconds=30))
    assert _login(api, "olive", PASSWORD).status_code == 200
    assert stack.services.store.sign_ins.login_failures("olive").count == 0


# -- rate limits -------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Stack, TestClient, Ticks]]:
    """An API whose sign-ins (3, then 1 a minute) and device reports (2, then 1 a second)
    are tightly limited, on a clock the test moves."""
    ticks = Ticks()
    stacks = make_stack(tmp_path)
    stack = next(stacks)
    services = stack.services
    store = services.store
    context = ApiContext(
        services=services,
        settings=ApiSettings(token_key=TEST_KEY),
        auth=AuthService(
            store.users,
            TokenSigner(TEST_KEY),
            services.clock,
            sign_ins=store.sign_ins,
            login_limit=TokenBuckets(rate_per_s=1 / 60, burst=3, monotonic=ticks),
        ),
        device_secrets=DeviceSecrets(
            store.devices,
            keys=store.device_keys,
            clock=services.clock,
            monotonic=ticks,
            limit=TokenBuckets(rate_per_s=1.0, burst=2, monotonic=ticks),
        ),
    )
    try:
        with TestClient(create_app(services, context=context)) as api:
            yield stack, api, ticks
    finally:
        stacks.close()


def test_sign_ins_are_rate_limited_per_address(limited: tuple[Stack, TestClient, Ticks]) -> None:
    stack, api, ticks = limited
    stack.services.store.users.create_user("olive", PASSWORD, UserRole.VIEWER, now=T0)
    for name in ("a", "b", "c"):  # different usernames: not the lockout
        assert _login(api, name, "wrong password").status_code == 401
    refused = _login(api, "olive", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "61"
    ticks.now += 60
    assert _login(api, "olive", PASSWORD).status_code == 200


def _batch(api: TestClient, device_id: str, secret: str) -> int:
    credentials = base64.b64encode(f"{device_id}:{secret}".encode()).decode()
    body = {"fixes": [{"fix_time": T0.isoformat(), "lat": 51.75, "lon": -0.33, "accuracy_m": 5}]}
    answer = api.post(
        "/api/v1/ingest/batch", json=body, headers={"Authorization": f"Basic {credentials}"}
    )
    return answer.status_code


def test_device_reports_are_rate_limited_per_device(
    limited: tuple[Stack, TestClient, Ticks],
) -> None:
    stack, api, ticks = limited
    store = stack.services.store
    for device_id in ("tag-1", "tag-2"):
        store.devices.save_device(Device(device_id))
        store.devices.set_device_secret(device_id, "a long device secret", now=T0)
    assert [_batch(api, "tag-1", "a long device secret") for _ in range(3)] == [200, 200, 429]
    assert _batch(api, "tag-2", "a long device secret") == 200  # another device: its own
    ticks.now += 1.0
    assert _batch(api, "tag-1", "a long device secret") == 200


def test_osmand_reports_over_the_configured_device_rate_get_429_with_retry_after(
    tmp_path: Path,
) -> None:
    stacks = make_stack(tmp_path)
    stack = next(stacks)
    try:
        stack.services.store.devices.save_device(Device("tag-1"))
        settings = ApiSettings.from_env(
            {"TAGWATCH_DEVICE_RATE_PER_S": "0.01", "TAGWATCH_DEVICE_BURST": "2"}
        )
        context = ApiContext.build(stack.services, settings)
        with TestClient(create_osmand_app(context)) as device:
            params = {"id": "tag-1", "lat": 51.75, "lon": -0.33, "accuracy": 5}
            answers = [
                device.get("/", params={**params, "timestamp": 1_790_000_000 + n}) for n in range(3)
            ]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert "too many reports" in answers[2].text
        assert 1 <= int(answers[2].headers["retry-after"]) <= 101
    finally:
        stacks.close()


def test_a_rotated_device_secret_keeps_the_old_one_for_the_grace_period(
    api: TestClient, stack: Stack, admin: dict[str, str]
) -> None:
    store = stack.services.store
    store.devices.save_device(Device("tag-1"))
    assert (
        api.put(
            "/api/v1/devices/tag-1/secret", json={"secret": "the old secret"}, headers=admin
        ).status_code
        == 200
    )
    assert _batch(api, "tag-1", "the old secret") == 200  # and now cached
    rotated = api.post("/api/v1/devices/tag-1/secret/rotate", json={"grace_s": 3600}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert rotated.json()["previous_valid_until"] == "2026-11-05T21:00:00Z"
    assert _batch(api, "tag-1", new) == 200
    assert _batch(api, "tag-1", "the old secret") == 200
    stack.clock.advance(timedelta(hours=1))
    assert _batch(api, "tag-1", "the old secret") == 401  # cached, but past its grace
    assert _batch(api, "tag-1", new) == 200


def test_rotating_needs_a_secret_to_rotate(
    api: TestClient, stack: Stack, admin: dict[str, str]
) -> None:
    stack.services.store.devices.save_device(Device("tag-1"))
    answer = api.post("/api/v1/devices/tag-1/secret/rotate", json={}, headers=admin)
    assert answer.status_code == 404
    assert "no secret" in answer.json()["detail"]


# -- headers -----------------------------------------------------------------------------


def test_api_answers_carry_security_headers(api: TestClient, viewer: dict[str, str]) -> None:
    for answer in (
        api.get("/api/v1/subjects", headers=viewer),
        api.get("/api/v1/subjects"),  # a 401 too
        api.get("/api/v1/health"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"


# -- the console -------------------------------------------------------------------------


def test_the_console_adds_organisations_and_users_and_rotates_device_keys(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tagwatch.cli import app
    from tagwatch.service.audit import AuditQuery
    from tagwatch.store import SqliteStore

    runner = CliRunner()
    db = str(tmp_path / "tagwatch.db")

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--db", db])
        return result.exit_code, result.output

    assert run("organisation", "add", "herts", "Herts Police", "--kind", "police_force")[0] == 0
    code, output = run(
        "user", "add", "pc1", "--role", "police_officer", "--organisation", "herts",
        "--password", "long enough",
    )  # fmt: skip
    assert (code, output.strip()) == (0, "added pc1 (police_officer) to herts")
    assert run("user", "add", "pc2", "--organisation", "kent", "--password", "long enough")[0] == 1
    assert "herts\tpolice_force\tHerts Police" in run("organisation", "list")[1]
    with SqliteStore(db) as store:
        store.devices.save_device(Device("tag-1"))
        store.devices.set_device_secret("tag-1", "the old secret", now=T0)
    code, output = run("device", "rotate-key", "tag-1", "--grace-days", "2")
    assert code == 0, output
    new_secret = output.splitlines()[0]
    with SqliteStore(db) as store:
        assert store.devices.verify_device_secret("tag-1", new_secret)
        assert store.device_keys.previous_secret_valid_until("tag-1", now=T0) is not None
        actions = [r.action for r in store.audit.search(AuditQuery(), limit=10).records]
        sources = {r.source for r in store.audit.search(AuditQuery(), limit=10).records}
    assert actions == ["organisation.create", "user.create", "device.secret_rotate"]
    assert sources == {"cli"}
