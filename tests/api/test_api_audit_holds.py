"""The auditors' API (/audit: search, export, verify) and legal holds (/holds), end to end:
location reads made through the API show up in the audit log an auditor searches."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta

from apikit import PURPOSE, T0, Stack, add_tagged_subject, created
from fastapi.testclient import TestClient

from tagwatch.domain.positions import Fix
from tagwatch.store import SqliteStore
from tagwatch.store.records import UserRole

Headers = dict[str, str]
SignIn = Callable[[UserRole], Headers]


def read_a_trail(api: TestClient, admin: Headers) -> None:
    answer = api.get(
        "/api/v1/subjects/subject-1/trail",
        params={
            "start": (T0 - timedelta(hours=2)).isoformat(),
            "end": T0.isoformat(),
            **PURPOSE,
        },
        headers=admin,
    )
    assert answer.status_code == 200, answer.text


def test_an_auditor_finds_a_trail_read_with_its_purpose(
    api: TestClient, admin: Headers, headers: SignIn
) -> None:
    add_tagged_subject(api, admin)
    read_a_trail(api, admin)
    auditor = headers(UserRole.AUDITOR)

    answer = api.get(
        "/api/v1/audit",
        params={"subject_id": "subject-1", "action": "trail.read"},
        headers=auditor,
    )

    assert answer.status_code == 200, answer.text
    [record] = answer.json()["records"]
    assert record["purpose_code"] == "investigation"
    assert record["purpose_text"] == "burglary 12/345, Hitchin"
    assert record["subject_ids"] == ["subject-1"]
    assert record["username"].startswith("admin-")
    assert len(record["hash"]) == 64
    # The auditor's own search is on the record too.
    mine = api.get("/api/v1/audit", params={"action": "audit.search"}, headers=auditor).json()
    assert mine["records"][0]["detail"]["query"] == {
        "subject_id": "subject-1",
        "action": "trail.read",
    }


def test_the_audit_log_is_for_auditors_and_administrators_only(
    api: TestClient, admin: Headers, headers: SignIn
) -> None:
    for role in (UserRole.MONITORING_OPERATOR, UserRole.POLICE_OFFICER, UserRole.VIEWER):
        who = headers(role)
        for path in ("/api/v1/audit", "/api/v1/audit/export", "/api/v1/audit/verify"):
            assert api.get(path, headers=who).status_code == 403, (role, path)
    assert api.get("/api/v1/audit", headers=admin).status_code == 200
    assert api.get("/api/v1/audit").status_code == 401


def test_search_pages_by_seq(api: TestClient, admin: Headers, headers: SignIn) -> None:
    add_tagged_subject(api, admin)
    for _ in range(5):
        read_a_trail(api, admin)
    auditor = headers(UserRole.AUDITOR)
    seen, after = [], 0
    while True:
        page = api.get(
            "/api/v1/audit",
            params={"action": "trail.read", "limit": 2, "after_seq": after},
            headers=auditor,
        ).json()
        seen += [r["seq"] for r in page["records"]]
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    assert len(seen) == 5
    assert seen == sorted(seen)


def test_bad_search_parameters_are_422_not_500(api: TestClient, headers: SignIn) -> None:
    auditor = headers(UserRole.AUDITOR)
    for params in (
        {"start": "2026-11-05T10:00:00"},  # no time zone
        {"start": "yesterday"},
        {"limit": 0},
        {"after_seq": -1},
    ):
        answer = api.get("/api/v1/audit", params=params, headers=auditor)
        assert answer.status_code == 422, (params, answer.text)


def test_export_streams_jsonl_and_csv(api: TestClient, admin: Headers, headers: SignIn) -> None:
    add_tagged_subject(api, admin)
    read_a_trail(api, admin)
    auditor = headers(UserRole.AUDITOR)

    jsonl = api.get("/api/v1/audit/export", params={"subject_id": "subject-1"}, headers=auditor)
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    assert "trail.read" in [r["action"] for r in records]
    assert all(r["subject_ids"] == ["subject-1"] for r in records)

    as_csv = api.get(
        "/api/v1/audit/export",
        params={"subject_id": "subject-1", "format": "csv"},
        headers=auditor,
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    # The same records, then the first export's own audit record (about subject-1 too).
    assert [int(r["seq"]) for r in rows[:-1]] == [r["seq"] for r in records]
    assert (rows[-1]["action"], rows[-1]["subject_ids"]) == ("audit.export", "subject-1")


def test_verify_over_the_api_reports_an_edited_record(
    stack: Stack, api: TestClient, admin: Headers, headers: SignIn
) -> None:
    add_tagged_subject(api, admin)
    read_a_trail(api, admin)
    auditor = headers(UserRole.AUDITOR)
    assert api.get("/api/v1/audit/verify", headers=auditor).json()["intact"] is True

    store = stack.services.store
    assert isinstance(store, SqliteStore)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    [(seq,)] = conn.execute("SELECT seq FROM audit_log WHERE action = 'trail.read'").fetchall()
    conn.execute("UPDATE audit_log SET purpose_text = 'curiosity' WHERE seq = ?", (seq,))
    conn.close()

    report = api.get("/api/v1/audit/verify", headers=auditor).json()
    assert report["intact"] is False
    assert [(i["kind"], i["seq"]) for i in report["issues"]] == [("altered", seq)]


def test_an_evidence_hold_is_placed_audited_listed_and_released(
    stack: Stack, api: TestClient, admin: Headers, headers: SignIn
) -> None:
    add_tagged_subject(api, admin)
    body = {
        "subject_id": "subject-1",
        "start": (T0 - timedelta(days=2)).isoformat(),
        "end": (T0 - timedelta(days=1)).isoformat(),
        "purpose_code": "court_evidence",
        "purpose": "Crown Court case T2026/0042",
    }
    police = headers(UserRole.POLICE_OFFICER)
    hold = created(api.post("/api/v1/holds", json=body, headers=police))
    assert hold["reason"] == "evidence_request"
    assert hold["note"] == "Crown Court case T2026/0042"
    assert hold["released_at"] is None

    listed = api.get("/api/v1/holds", params={"subject_id": "subject-1"}, headers=admin).json()
    assert [h["id"] for h in listed] == [hold["id"]]

    auditor = headers(UserRole.AUDITOR)
    [record] = api.get("/api/v1/audit", params={"action": "hold.create"}, headers=auditor).json()[
        "records"
    ]
    assert record["purpose_code"] == "court_evidence"
    assert record["detail"]["hold_id"] == hold["id"]

    # Held fixes survive a purge that takes the others from the same month.
    stack.services.store.fixes.add_fixes(
        [Fix("tag-1", T0 - timedelta(days=d, hours=12), 51.75, -0.33, 10.0) for d in (1, 3)]
    )
    stack.clock.set(T0 + timedelta(days=400))
    stack.services.retention.purge()
    left = stack.services.store.fixes.trail(
        start=T0 - timedelta(days=5), end=T0, device_ids=["tag-1"]
    )
    assert [f.fix_time for f in left] == [T0 - timedelta(days=1, hours=12)]

    later_admin = headers(UserRole.ADMIN)  # signed in now: the earlier tokens have expired
    released = api.post(f"/api/v1/holds/{hold['id']}/release", headers=later_admin)
    assert released.status_code == 200, released.text
    assert released.json()["released_at"] == stack.clock.now().isoformat().replace("+00:00", "Z")


def test_a_hold_is_released_by_its_creator_or_a_case_manager_only(
    api: TestClient, admin: Headers, headers: SignIn
) -> None:
    add_tagged_subject(api, admin)
    body = {
        "subject_id": "subject-1",
        "start": T0.isoformat(),
        "purpose_code": "investigation",
        "purpose": "ref 9",
    }
    creator = headers(UserRole.POLICE_OFFICER)
    hold = created(api.post("/api/v1/holds", json=body, headers=creator))
    colleague = headers(UserRole.POLICE_OFFICER)
    path = f"/api/v1/holds/{hold['id']}/release"
    assert api.post(path, headers=colleague).status_code == 403
    assert api.post(path, headers=creator).status_code == 200


def test_holds_refuse_bad_requests_with_reasons(
    api: TestClient, admin: Headers, headers: SignIn
) -> None:
    add_tagged_subject(api, admin)
    good = {
        "subject_id": "subject-1",
        "start": T0.isoformat(),
        "purpose_code": "investigation",
        "purpose": "ref 1",
    }
    for change, status in (
        ({"purpose": "   "}, 422),
        ({"purpose_code": "nosy"}, 422),
        ({"end": (T0 - timedelta(days=1)).isoformat()}, 422),
        ({"start": "2026-11-05T10:00:00"}, 422),
        ({"subject_id": "nobody"}, 422),  # a new record naming a missing subject
    ):
        answer = api.post("/api/v1/holds", json={**good, **change}, headers=admin)
        assert answer.status_code == status, (change, answer.text)
    viewer = headers(UserRole.VIEWER)
    assert api.post("/api/v1/holds", json=good, headers=viewer).status_code == 403
    assert api.get("/api/v1/holds/no-such-hold", headers=admin).status_code == 404
