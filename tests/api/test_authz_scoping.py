"""Scoping beyond single requests: the live feed, exports, the audit records of location
reads and changes, users across organisations, moving subjects, and the upgrade of a
database from before organisations."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apikit import PURPOSE, ST_ALBANS, T0, TEST_KEY, Stack, make_stack
from test_authz_matrix import ADMINS, CENTRE, HERTS, KENT, PRINCIPALS, SUBJECT, Who, build_world

from tagwatch.domain.positions import Fix
from tagwatch.service.audit import AuditQuery
from tagwatch.service.auth import TokenSigner
from tagwatch.service.bus import Bus
from tagwatch.store import SqliteStore
from tagwatch.store.records import UserRole
from tagwatch.store.sqlite.migrate import load_migrations, statements

R = UserRole


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Stack, dict[Who, dict[str, str]]]]:
    stacks = make_stack(tmp_path)
    stack = next(stacks)
    try:
        yield stack, build_world(stack)
    finally:
        stacks.close()


def who(role: UserRole, organisation: str) -> Who:
    found = Who(role, organisation)
    assert found in PRINCIPALS
    return found


# -- the live feed -----------------------------------------------------------------------


def _stream(stack: Stack, headers: dict[str, str], messages: list[dict[str, Any]]) -> list[Any]:
    """Open the live feed, publish `messages` once subscribed, end it; the events received."""
    bus: Bus = stack.services.bus
    stack.context.closing.clear()

    def feed() -> None:
        deadline = time.monotonic() + 5
        while bus.subscriber_count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        bus.publish_many(messages)
        time.sleep(0.3)
        stack.context.closing.set()

    thread = threading.Thread(target=feed)
    thread.start()
    answer = stack.api.get("/api/v1/stream", headers=headers)
    thread.join(5)
    assert answer.status_code == 200, answer.text
    events = []
    for block in answer.text.split("\n\n"):
        data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if data:
            events.append(json.loads(data[0]))
    return events


def _messages() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for case, subject_id in SUBJECT.items():
        found.append({"type": "position", "device_id": f"tag-{case}", "subject_id": subject_id})
        found.append({"type": "alert", "alert": {"id": f"al-{case}", "subject_id": subject_id}})
    found.append({"type": "position", "device_id": "loose-tag", "subject_id": None})
    found.append({"type": "gap", "dropped": 2})
    return found


@pytest.mark.parametrize(
    ("principal", "subjects"),
    [
        (Who(R.POLICE_OFFICER, HERTS), {"s-own", "s-shared"}),
        (Who(R.VIEWER, HERTS), {"s-own", "s-shared"}),
        (Who(R.MONITORING_OPERATOR, CENTRE), {"s-own", "s-other", "s-shared", "s-expired", None}),
    ],
    ids=lambda value: value.name if isinstance(value, Who) else "",
)
def test_the_live_feed_carries_only_subjects_in_reach(
    world: tuple[Stack, dict[Who, dict[str, str]]], principal: Who, subjects: set[str | None]
) -> None:
    stack, headers = world
    events = _stream(stack, headers[principal], _messages())
    positions = {e["subject_id"] for e in events if e["type"] == "position"}
    alerts = {e["alert"]["subject_id"] for e in events if e["type"] == "alert"}
    assert positions == subjects
    assert alerts == subjects - {None}
    assert {"type": "gap", "dropped": 2} in events  # carries no data: always delivered
    subscribed = stack.services.audit.search(AuditQuery(action="stream.subscribe")).records
    assert [r.username for r in subscribed] == [f"{principal.role.value}.{principal.organisation}"]


def test_auditors_get_no_live_feed(world: tuple[Stack, dict[Who, dict[str, str]]]) -> None:
    stack, headers = world
    answer = stack.api.get("/api/v1/stream", headers=headers[who(R.AUDITOR, HERTS)])
    assert answer.status_code == 403


def test_a_grant_revoked_while_streaming_stops_the_flow(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    from tagwatch.service.access import AccessPolicy
    from tagwatch.service.live import FeedFilter

    stack, _ = world
    services = stack.services
    access = AccessPolicy(services.store, services.clock)
    user = services.store.users.get_user("police_officer.herts")
    assert user is not None
    now = [0.0]
    feed = FeedFilter(access, access.principal(user), refresh_s=30, monotonic=lambda: now[0])
    message = {"type": "position", "subject_id": "s-shared"}
    assert feed.allows(message)
    services.store.grants.revoke_grant("g-shared", at=T0)
    now[0] = 29.0
    assert feed.allows(message)  # within the refresh interval: the scope read earlier holds
    now[0] = 31.0
    assert not feed.allows(message)


# -- exports and audit -------------------------------------------------------------------


def test_an_export_holds_only_the_subject_and_range_asked_for_and_is_audited(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    store = stack.services.store
    inside = [Fix("tag-own", T0 - timedelta(minutes=m), 51.75, -0.33, 5.0) for m in (10, 20)]
    outside = [Fix("tag-own", T0 - timedelta(hours=5), 51.75, -0.33, 5.0)]
    store.fixes.add_fixes([*inside, *outside])
    params = {
        "start": (T0 - timedelta(hours=1)).isoformat(),
        "end": T0.isoformat(),
        "format": "csv",
        **PURPOSE,
    }
    officer = who(R.POLICE_OFFICER, HERTS)
    answer = stack.api.get("/api/v1/subjects/s-own/trail", params=params, headers=headers[officer])
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {row["device_id"] for row in rows} == {"tag-own"}  # the other subjects' tags: absent
    assert sorted(row["fix_time"] for row in rows) == [
        "2026-11-05T19:30:00Z",  # the world's fix
        "2026-11-05T19:40:00Z",
        "2026-11-05T19:50:00Z",
    ]
    records = stack.services.audit.search(AuditQuery(action="export.read")).records
    assert len(records) == 1
    record = records[0]
    assert (record.username, record.organisation_id, record.source) == (
        "police_officer.herts",
        HERTS,
        "testclient",
    )
    assert record.subject_ids == ("s-own",)
    assert (record.purpose_code, record.purpose_text) == (
        PURPOSE["purpose_code"],
        PURPOSE["purpose"],
    )
    assert record.detail["format"] == "csv"
    assert record.detail["fixes"] == 3


def test_every_location_read_and_change_writes_an_audit_record(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    api, officer = stack.api, headers[who(R.PROBATION_OFFICER, HERTS)]
    window = {"start": (T0 - timedelta(hours=1)).isoformat(), "end": T0.isoformat()}
    near = {"lon": ST_ALBANS[0], "lat": ST_ALBANS[1], "radius_m": 100, **window, **PURPOSE}
    assert api.get("/api/v1/positions", headers=officer).status_code == 200
    assert (
        api.get("/api/v1/positions", params={"subject_id": "s-own"}, headers=officer).status_code
        == 200
    )
    trail = api.get(
        "/api/v1/subjects/s-shared/trail", params={**window, **PURPOSE}, headers=officer
    )
    assert trail.status_code == 200
    assert api.get("/api/v1/positions/near", params=near, headers=officer).status_code == 200
    body = {"subject_id": "s-own", "order_type": "licence", "start": "2026-01-01T00:00:00Z"}
    assert api.post("/api/v1/orders", json=body, headers=officer).status_code == 201
    alert_id = stack.services.store.alerts.list_alerts(subject_id="s-own", limit=1).alerts[0].id
    note = {"action": "acknowledge", "note": "phoned the subject"}
    assert (
        api.post(f"/api/v1/alerts/{alert_id}/actions", json=note, headers=officer).status_code
        == 200
    )
    records = stack.services.audit.search(AuditQuery(username="probation_officer.herts")).records
    assert [(r.action, r.subject_ids) for r in records] == [
        ("position.read", ("s-own", "s-shared")),
        ("position.read", ("s-own",)),
        ("trail.read", ("s-shared",)),
        ("search.near", ("s-own", "s-shared")),
        ("order.create", ("s-own",)),
        ("alert.acknowledge", ("s-own",)),
    ]
    assert all(r.organisation_id == HERTS and r.source == "testclient" for r in records)
    assert records[3].detail["radius_m"] == 100


def test_a_refused_read_writes_no_data_and_a_read_without_purpose_is_422(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    officer = headers[who(R.POLICE_OFFICER, HERTS)]
    window = {"start": (T0 - timedelta(hours=1)).isoformat(), "end": T0.isoformat()}
    other = stack.api.get(
        "/api/v1/subjects/s-other/trail", params={**window, **PURPOSE}, headers=officer
    )
    assert other.status_code == 404
    assert other.json()["detail"] == "no subject 's-other'"  # as if it did not exist
    no_purpose = stack.api.get("/api/v1/subjects/s-own/trail", params=window, headers=officer)
    assert no_purpose.status_code == 422
    assert "purpose" in no_purpose.json()["detail"]
    assert not stack.services.audit.search(AuditQuery(action="trail.read")).records


# -- users and organisations -------------------------------------------------------------


def test_admins_manage_only_their_organisations_users(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    api, herts_admin = stack.api, headers[who(R.ADMIN, HERTS)]
    names = {u["username"] for u in api.get("/api/v1/users", headers=herts_admin).json()}
    assert names == {f"{p.role.value}.{HERTS}" for p in PRINCIPALS if p.organisation == HERTS}
    assert api.get("/api/v1/users/viewer.emc", headers=herts_admin).status_code == 404
    assert api.delete("/api/v1/users/viewer.emc", headers=herts_admin).status_code == 404
    body = {"username": "kent.new", "password": "long enough", "organisation_id": KENT}
    assert api.post("/api/v1/users", json=body, headers=herts_admin).status_code == 403
    move = {"organisation_id": KENT}
    answer = api.patch("/api/v1/users/viewer.herts", json=move, headers=herts_admin)
    assert answer.status_code == 403
    national = headers[who(R.ADMIN, ADMINS)]
    assert api.post("/api/v1/users", json=body, headers=national).json()["organisation_id"] == KENT
    assert len(api.get("/api/v1/users", headers=national).json()) == len(PRINCIPALS) + 1


def test_only_administrators_move_subjects(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    api = stack.api
    body = {"organisation_id": HERTS}
    for principal in PRINCIPALS:
        if principal == Who(R.ADMIN, ADMINS):
            continue
        answer = api.put(
            "/api/v1/subjects/s-other/organisation", json=body, headers=headers[principal]
        )
        assert answer.status_code == 403, principal.name
    national = headers[who(R.ADMIN, ADMINS)]
    assert (
        api.put("/api/v1/subjects/s-other/organisation", json=body, headers=national).status_code
        == 200
    )
    officer = headers[who(R.POLICE_OFFICER, HERTS)]
    answer = api.get("/api/v1/subjects/s-other/organisation", headers=officer)
    assert answer.json() == {"organisation_id": HERTS}  # now theirs
    moved = stack.services.audit.search(AuditQuery(action="subject.move")).records
    assert [r.subject_ids for r in moved] == [("s-other",)]


def test_a_grant_lets_another_organisation_in_until_it_ends(
    world: tuple[Stack, dict[Who, dict[str, str]]],
) -> None:
    stack, headers = world
    api = stack.api
    herts_officer = headers[who(R.POLICE_OFFICER, HERTS)]
    assert api.get("/api/v1/subjects/s-other", headers=herts_officer).status_code == 404
    stack.services.store.users.create_user(
        "officer.kent", "long enough", R.POLICE_OFFICER, now=T0, organisation_id=KENT
    )
    kent = {"Authorization": f"Bearer {TokenSigner(TEST_KEY).issue('officer.kent', now=T0).token}"}
    until = (T0 + timedelta(hours=2)).isoformat()
    grant = {"subject_id": "s-other", "grantee_organisation_id": HERTS, "valid_until": until}
    created = api.post("/api/v1/grants", json=grant, headers=kent)
    assert created.status_code == 201, created.text
    assert created.json()["granted_by"] == "officer.kent"
    assert api.get("/api/v1/subjects/s-other", headers=herts_officer).status_code == 200
    too_long = {**grant, "valid_until": (T0 + timedelta(days=400)).isoformat()}
    assert api.post("/api/v1/grants", json=too_long, headers=kent).status_code == 422
    stack.clock.advance(timedelta(hours=2))
    token = TokenSigner(TEST_KEY).issue("police_officer.herts", now=stack.clock.now()).token
    herts_officer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/subjects/s-other", headers=herts_officer).status_code == 404


# -- upgrading a database from before organisations -------------------------------------


def test_users_and_subjects_from_before_organisations_land_in_the_default_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " checksum TEXT NOT NULL, applied_at_us INTEGER NOT NULL)"
    )
    for migration in load_migrations():
        if "organisations" in migration.name:
            break
        for statement in statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, ?, 0)",
            (migration.version, migration.name, migration.checksum),
        )
    conn.execute("INSERT INTO users VALUES ('olive', 'x', 'operator', 0)")
    conn.execute("INSERT INTO subjects (id, name, risk_level) VALUES ('s-1', 'Sam', 'high')")
    conn.close()
    with SqliteStore(path) as store:
        user = store.users.get_user("olive")
        assert user is not None
        assert (user.role, user.organisation_id) == (R.MONITORING_OPERATOR, "default")
        assert store.organisations.subject_organisation("s-1") == "default"
        default = store.organisations.get_organisation("default")
        assert default is not None and default.kind.value == "administrator"
