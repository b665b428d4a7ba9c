"""The authorisation matrix: every API endpoint, for every role, in a police force and in
the national organisations, against four subjects: one their organisation manages (own),
one another force manages (other), one shared with them by an active grant (shared), and
one whose grant has expired (expired). Each request's outcome is asserted exactly.

The expected outcomes are written out here, independently of tagwatch.service.access:
changing who may do what means changing both, on purpose. A new endpoint without an entry
in ENDPOINTS fails `test_every_endpoint_is_in_the_matrix`.

Conventions the API keeps (README, "Who can see what"): a subject out of reach is answered
like one that does not exist (404, or 422 "refers to a record that does not exist" when a
new record names it); in reach but not allowed is 403; lists leave out what is out of reach.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apikit import PURPOSE, ST_ALBANS, T0, TEST_KEY, Stack, circle_zone, make_stack, seed_alert
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tagwatch.domain.people import Assignment, Device, Order, OrderType, Subject
from tagwatch.domain.positions import Fix
from tagwatch.service.auth import TokenSigner
from tagwatch.store.holds import HoldReason, LegalHoldDraft
from tagwatch.store.records import OrganisationKind, SharingGrant, UserRole

# -- the world ---------------------------------------------------------------------------

HERTS, KENT, CENTRE, ADMINS = "herts", "kent", "emc", "default"
CASES = ("own", "other", "shared", "expired")
SUBJECT = {case: f"s-{case}" for case in CASES}
MANAGER = {"own": HERTS, "other": KENT, "shared": KENT, "expired": KENT}

R = UserRole
ROLES = (
    R.ADMIN,
    R.MONITORING_OPERATOR,
    R.POLICE_OFFICER,
    R.PROBATION_OFFICER,
    R.AUDITOR,
    R.VIEWER,
)


@dataclass(frozen=True)
class Who:
    role: UserRole
    organisation: str

    @property
    def national(self) -> bool:
        return self.organisation in (CENTRE, ADMINS)

    @property
    def name(self) -> str:
        return f"{self.role.value}@{self.organisation}"


PRINCIPALS = [Who(role, HERTS) for role in ROLES] + [
    Who(R.ADMIN, ADMINS),
    Who(R.AUDITOR, ADMINS),
    Who(R.MONITORING_OPERATOR, CENTRE),
    Who(R.VIEWER, CENTRE),
    Who(R.POLICE_OFFICER, CENTRE),
]

# What each role may do to a subject, by relation: M managed, N national, S shared.
MAY: dict[UserRole, dict[str, str]] = {
    R.ADMIN: {
        "read": "MNS",
        "live": "MNS",
        "history": "MNS",
        "alerts": "MNS",
        "manage": "MN",
        "share": "MN",
    },
    R.MONITORING_OPERATOR: {
        "read": "MNS",
        "live": "MNS",
        "history": "MNS",
        "alerts": "MNS",
        "manage": "",
        "share": "",
    },
    R.POLICE_OFFICER: {
        "read": "MNS",
        "live": "MNS",
        "history": "MNS",
        "alerts": "MNS",
        "manage": "",
        "share": "M",
    },
    R.PROBATION_OFFICER: {
        "read": "MNS",
        "live": "MNS",
        "history": "MNS",
        "alerts": "MNS",
        "manage": "M",
        "share": "M",
    },
    R.AUDITOR: {"read": "", "live": "", "history": "", "alerts": "", "manage": "", "share": ""},
    R.VIEWER: {
        "read": "MNS",
        "live": "MNS",
        "history": "",
        "alerts": "",
        "manage": "",
        "share": "",
    },
}


def relation(who: Who, case: str) -> str:
    if MANAGER[case] == who.organisation:
        return "M"
    if who.national:
        return "N"
    return "S" if case == "shared" else "-"


def may(who: Who, action: str, case: str) -> bool:
    return relation(who, case) in MAY[who.role][action]


def may_org(who: Who, action: str) -> bool:
    admin_org = who.organisation == ADMINS
    return {
        "devices": who.national and who.role in (R.ADMIN, R.MONITORING_OPERATOR),
        "users": who.role is R.ADMIN,
        "organisations": admin_org and who.role is R.ADMIN,
        "create_subject": who.role in (R.ADMIN, R.PROBATION_OFFICER),
        "audit": who.role is R.AUDITOR or (admin_org and who.role is R.ADMIN),
        "signed_in": True,
    }[action]


_ids = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def build_world(stack: Stack) -> dict[Who, dict[str, str]]:
    """Organisations, the four subjects with everything a subject can have, and a signed-in
    user per principal; returns each principal's Authorization header."""
    store = stack.services.store
    store.organisations.create_organisation(
        HERTS, "Hertfordshire Constabulary", OrganisationKind.POLICE_FORCE, now=T0
    )
    store.organisations.create_organisation(
        KENT, "Kent Police", OrganisationKind.POLICE_FORCE, now=T0
    )
    store.organisations.create_organisation(
        CENTRE, "Monitoring centre", OrganisationKind.MONITORING_CENTRE, now=T0
    )
    for case in CASES:
        subject_id, device_id = SUBJECT[case], f"tag-{case}"
        store.subjects.save_subject(Subject(subject_id, f"Person {case}"))
        store.organisations.set_subject_organisation(subject_id, MANAGER[case])
        store.devices.save_device(Device(device_id))
        store.devices.set_device_secret(device_id, "a long device secret", now=T0)
        store.assignments.save_assignment(
            Assignment(device_id, subject_id, T0 - timedelta(days=30))
        )
        store.orders.save_order(
            Order(f"o-{case}", subject_id, OrderType.LICENCE, T0 - timedelta(days=30))
        )
        store.fixes.add_fixes(
            [Fix(device_id, T0 - timedelta(minutes=30), ST_ALBANS[1], ST_ALBANS[0], 8.0)]
        )
        seed_alert(stack, subject_id=subject_id, device_id=device_id)
    _grant(stack, "g-shared", "s-shared", T0 - timedelta(days=1), T0 + timedelta(days=1))
    _grant(stack, "g-expired", "s-expired", T0 - timedelta(days=10), T0 - timedelta(days=1))
    signer = TokenSigner(TEST_KEY)
    headers = {}
    for who in PRINCIPALS:
        username = f"{who.role.value}.{who.organisation}"
        store.users.create_user(
            username, "long enough", who.role, now=T0, organisation_id=who.organisation
        )
        token = signer.issue(username, now=T0).token
        headers[who] = {"Authorization": f"Bearer {token}"}
    return headers


def _grant(stack: Stack, grant_id: str, subject_id: str, start: Any, end: Any) -> None:
    stack.services.store.grants.create_grant(
        SharingGrant(grant_id, subject_id, HERTS, "admin.kent", start, end, "joint case", T0)
    )


# -- preparing one request ---------------------------------------------------------------


@dataclass
class Request:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


Prepare = Callable[[Stack, str], Request]  # (stack, subject id) -> the request


def _zone(stack: Stack, subject_id: str) -> str:
    from tagwatch.api.schemas.requirements import ZoneCreate

    zone_id = fresh("z")
    zone = ZoneCreate.model_validate(circle_zone(subject_id, zone_id)).to_domain()
    stack.services.store.zones.save_zone(zone)
    return zone_id


def _curfew_body(subject_id: str, curfew_id: str) -> dict[str, Any]:
    return {
        "id": curfew_id,
        "subject_id": subject_id,
        "address": {"type": "Point", "coordinates": list(ST_ALBANS), "radius_m": 150.0},
        "schedule": {
            "windows": [{"weekday": d, "start": "19:00:00", "end": "07:00:00"} for d in range(7)],
            "time_zone": "Europe/London",
        },
    }


def _appointment_body(subject_id: str, appointment_id: str) -> dict[str, Any]:
    return {
        "id": appointment_id,
        "subject_id": subject_id,
        "place": {"type": "Point", "coordinates": list(ST_ALBANS), "radius_m": 50.0},
        "start": "2026-11-06T10:00:00Z",
        "end": "2026-11-06T11:00:00Z",
    }


def _curfew(stack: Stack, subject_id: str) -> str:
    from tagwatch.api.schemas.requirements import CurfewCreate

    curfew_id = fresh("c")
    body = CurfewCreate.model_validate(_curfew_body(subject_id, curfew_id))
    stack.services.store.curfews.save_curfew(body.to_domain())
    return curfew_id


def _appointment(stack: Stack, subject_id: str) -> str:
    from tagwatch.api.schemas.requirements import AppointmentCreate

    appointment_id = fresh("a")
    body = AppointmentCreate.model_validate(_appointment_body(subject_id, appointment_id))
    stack.services.store.appointments.save_appointment(body.to_domain())
    return appointment_id


def _fitted_device(stack: Stack, subject_id: str) -> str:
    device_id = fresh("d")
    stack.services.store.devices.save_device(Device(device_id))
    stack.services.store.assignments.save_assignment(
        Assignment(device_id, subject_id, T0 - timedelta(days=1))
    )
    return device_id


def _alert(stack: Stack, subject_id: str) -> str:
    found = stack.services.store.alerts.list_alerts(subject_id=subject_id, limit=1).alerts
    return found[0].id


def _user_in(stack: Stack, organisation: str) -> str:
    username = fresh("user")
    stack.services.store.users.create_user(
        username, "long enough", R.VIEWER, now=T0, organisation_id=organisation
    )
    return username


def _secret(stack: Stack, subject_id: str) -> str:
    device_id = _fitted_device(stack, subject_id)
    stack.services.store.devices.set_device_secret(device_id, "a long device secret", now=T0)
    return device_id


def _range() -> dict[str, str]:
    return {"start": (T0 - timedelta(hours=2)).isoformat(), "end": T0.isoformat()}


# -- the endpoints -----------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """How to call one endpoint and what its outcome depends on.

    `action` is a subject action (read, live, history, alerts, manage, share: the outcome
    depends on the subject's case) or an organisation action (devices, users,
    organisations, create_subject, signed_in: the same for every case). `missing` is the
    answer for a subject out of reach: 404, 422 (a new record naming it), or "list" (200,
    left out of the list; `listed` says which subjects an answer shows).
    """

    action: str
    prepare: Prepare
    ok: int = 200
    missing: int | str = 404
    listed: Callable[[Any], set[str]] | None = None


def _ids_of(key: str = "subject_id") -> Callable[[Any], set[str]]:
    return lambda body: {item[key] for item in body}


def _features(body: Any) -> set[str]:
    return {feature["properties"]["subject_id"] for feature in body["features"]}


P = Request
ENDPOINTS: dict[tuple[str, str], Endpoint | str] = {
    # open, or checked by other means (tested elsewhere, named here so none is forgotten)
    ("POST", "/api/v1/auth/token"): "open: a password (test_api_auth*.py)",
    ("POST", "/api/v1/auth/refresh"): "open: a refresh token (test_api_auth_hardening.py)",
    ("POST", "/api/v1/auth/logout"): "open: a refresh token (test_api_auth_hardening.py)",
    ("GET", "/api/v1/health"): "open: no data",
    ("GET", "/metrics"): "open: counters, no personal data",
    ("POST", "/api/v1/ingest/batch"): "device credentials (test_api_ingest_batch.py)",
    ("GET", "/api/v1/stream"): "the live feed: test_the_live_feed_carries_only_subjects_in_reach",
    # who am I, organisations
    ("GET", "/api/v1/auth/me"): Endpoint("signed_in", lambda s, x: P("/api/v1/auth/me")),
    ("GET", "/api/v1/organisations"): Endpoint(
        "signed_in", lambda s, x: P("/api/v1/organisations")
    ),
    ("GET", "/api/v1/organisations/{organisation_id}"): Endpoint(
        "signed_in", lambda s, x: P(f"/api/v1/organisations/{KENT}")
    ),
    ("POST", "/api/v1/organisations"): Endpoint(
        "organisations",
        lambda s, x: P(
            "/api/v1/organisations",
            json={"id": fresh("org"), "name": "Essex Police", "kind": "police_force"},
        ),
        ok=201,
    ),
    ("PATCH", "/api/v1/organisations/{organisation_id}"): Endpoint(
        "organisations",
        lambda s, x: P(f"/api/v1/organisations/{KENT}", json={"name": "Kent Police"}),
    ),
    # users (of the caller's own organisation; across organisations: test below)
    ("GET", "/api/v1/users"): Endpoint("users", lambda s, x: P("/api/v1/users")),
    ("POST", "/api/v1/users"): Endpoint(
        "users",
        lambda s, x: P("/api/v1/users", json={"username": fresh("new"), "password": "long enough"}),
        ok=201,
    ),
    ("GET", "/api/v1/users/{username}"): Endpoint(
        "users", lambda s, x: P(f"/api/v1/users/{_user_in(s, _org_of(x))}")
    ),
    ("PATCH", "/api/v1/users/{username}"): Endpoint(
        "users",
        lambda s, x: P(f"/api/v1/users/{_user_in(s, _org_of(x))}", json={"role": "viewer"}),
    ),
    ("DELETE", "/api/v1/users/{username}"): Endpoint(
        "users", lambda s, x: P(f"/api/v1/users/{_user_in(s, _org_of(x))}"), ok=204
    ),
    # subjects
    ("GET", "/api/v1/subjects"): Endpoint(
        "read", lambda s, x: P("/api/v1/subjects"), missing="list", listed=_ids_of("id")
    ),
    ("POST", "/api/v1/subjects"): Endpoint(
        "create_subject", lambda s, x: P("/api/v1/subjects", json={"name": "New Person"}), ok=201
    ),
    ("GET", "/api/v1/subjects/{subject_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/subjects/{x}")
    ),
    ("PATCH", "/api/v1/subjects/{subject_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/subjects/{x}", json={"reference": "PNC 1"})
    ),
    ("GET", "/api/v1/subjects/{subject_id}/organisation"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/subjects/{x}/organisation")
    ),
    (
        "PUT",
        "/api/v1/subjects/{subject_id}/organisation",
    ): "administrators only: test_only_administrators_move_subjects",
    ("GET", "/api/v1/subjects/{subject_id}/trail"): Endpoint(
        "history", lambda s, x: P(f"/api/v1/subjects/{x}/trail", params={**_range(), **PURPOSE})
    ),
    # previews replay the subject's stored fixes: a history read, with a purpose
    ("POST", "/api/v1/subjects/{subject_id}/zone-preview"): Endpoint(
        "history",
        lambda s, x: P(
            f"/api/v1/subjects/{x}/zone-preview",
            params={"days": 1, **PURPOSE},
            json=circle_zone(x, fresh("zp")),
        ),
    ),
    ("POST", "/api/v1/subjects/{subject_id}/curfew-preview"): Endpoint(
        "history",
        lambda s, x: P(
            f"/api/v1/subjects/{x}/curfew-preview",
            params={"days": 1, **PURPOSE},
            json=_curfew_body(x, fresh("cp")),
        ),
    ),
    # devices: equipment, managed nationally; a device is seen with the subject it is fitted to
    ("GET", "/api/v1/devices"): Endpoint(
        "read",
        lambda s, x: P("/api/v1/devices"),
        missing="list",
        listed=lambda body: {
            f"s-{d['id'].removeprefix('tag-')}" for d in body if d["id"].startswith("tag-")
        },
    ),
    ("POST", "/api/v1/devices"): Endpoint(
        "devices", lambda s, x: P("/api/v1/devices", json={"id": fresh("dev")}), ok=201
    ),
    ("GET", "/api/v1/devices/{device_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/devices/{_fitted_device(s, x)}")
    ),
    ("PATCH", "/api/v1/devices/{device_id}"): Endpoint(
        "devices",
        lambda s, x: P(f"/api/v1/devices/{_fitted_device(s, x)}", json={"label": "ankle"}),
    ),
    ("PUT", "/api/v1/devices/{device_id}/secret"): Endpoint(
        "devices", lambda s, x: P(f"/api/v1/devices/{_fitted_device(s, x)}/secret", json={})
    ),
    ("POST", "/api/v1/devices/{device_id}/secret/rotate"): Endpoint(
        "devices", lambda s, x: P(f"/api/v1/devices/{_secret(s, x)}/secret/rotate", json={})
    ),
    ("DELETE", "/api/v1/devices/{device_id}/secret"): Endpoint(
        "devices", lambda s, x: P(f"/api/v1/devices/{_secret(s, x)}/secret"), ok=204
    ),
    ("GET", "/api/v1/unknown-devices"): Endpoint(
        "devices", lambda s, x: P("/api/v1/unknown-devices")
    ),
    # assignments
    ("GET", "/api/v1/assignments"): Endpoint(
        "read", lambda s, x: P("/api/v1/assignments"), missing="list", listed=_ids_of()
    ),
    ("POST", "/api/v1/assignments"): Endpoint(
        "manage",
        lambda s, x: P(
            "/api/v1/assignments",
            json={"device_id": _unfitted(s), "subject_id": x, "start": T0.isoformat()},
        ),
        ok=201,
        missing=422,
    ),
    ("POST", "/api/v1/assignments/end"): Endpoint(
        "manage",
        lambda s, x: P("/api/v1/assignments/end", json={"device_id": _fitted_device(s, x)}),
    ),
    # orders
    ("GET", "/api/v1/orders"): Endpoint(
        "read", lambda s, x: P("/api/v1/orders"), missing="list", listed=_ids_of()
    ),
    ("POST", "/api/v1/orders"): Endpoint(
        "manage",
        lambda s, x: P(
            "/api/v1/orders",
            json={"subject_id": x, "order_type": "licence", "start": "2026-01-01T00:00:00Z"},
        ),
        ok=201,
        missing=422,
    ),
    ("GET", "/api/v1/orders/{order_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/orders/o-{_case(x)}")
    ),
    ("PATCH", "/api/v1/orders/{order_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/orders/o-{_case(x)}", json={"reference": "T20261234"})
    ),
    # zones, curfews, appointments
    ("GET", "/api/v1/zones"): Endpoint(
        "read", lambda s, x: (_zone(s, x), P("/api/v1/zones"))[1], missing="list", listed=_features
    ),
    ("POST", "/api/v1/zones"): Endpoint(
        "manage",
        lambda s, x: P("/api/v1/zones", json=circle_zone(x, fresh("z"))),
        ok=201,
        missing=422,
    ),
    ("GET", "/api/v1/zones/{zone_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/zones/{_zone(s, x)}")
    ),
    ("PATCH", "/api/v1/zones/{zone_id}"): Endpoint(
        "manage",
        lambda s, x: P(f"/api/v1/zones/{_zone(s, x)}", json={"properties": {"name": "park"}}),
    ),
    ("DELETE", "/api/v1/zones/{zone_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/zones/{_zone(s, x)}"), ok=204
    ),
    ("GET", "/api/v1/curfews"): Endpoint(
        "read",
        lambda s, x: (_curfew(s, x), P("/api/v1/curfews"))[1],
        missing="list",
        listed=_ids_of(),
    ),
    ("POST", "/api/v1/curfews"): Endpoint(
        "manage",
        lambda s, x: P("/api/v1/curfews", json=_curfew_body(x, fresh("c"))),
        ok=201,
        missing=422,
    ),
    ("GET", "/api/v1/curfews/{curfew_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/curfews/{_curfew(s, x)}")
    ),
    ("PATCH", "/api/v1/curfews/{curfew_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/curfews/{_curfew(s, x)}", json={"dwell_s": 600.0})
    ),
    ("DELETE", "/api/v1/curfews/{curfew_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/curfews/{_curfew(s, x)}"), ok=204
    ),
    ("GET", "/api/v1/appointments"): Endpoint(
        "read",
        lambda s, x: (_appointment(s, x), P("/api/v1/appointments"))[1],
        missing="list",
        listed=_ids_of(),
    ),
    ("POST", "/api/v1/appointments"): Endpoint(
        "manage",
        lambda s, x: P("/api/v1/appointments", json=_appointment_body(x, fresh("a"))),
        ok=201,
        missing=422,
    ),
    ("GET", "/api/v1/appointments/{appointment_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/appointments/{_appointment(s, x)}")
    ),
    ("PATCH", "/api/v1/appointments/{appointment_id}"): Endpoint(
        "manage",
        lambda s, x: P(f"/api/v1/appointments/{_appointment(s, x)}", json={"grace_s": 60.0}),
    ),
    ("DELETE", "/api/v1/appointments/{appointment_id}"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/appointments/{_appointment(s, x)}"), ok=204
    ),
    # positions
    ("GET", "/api/v1/positions"): Endpoint(
        "live", lambda s, x: P("/api/v1/positions"), missing="list", listed=_features
    ),
    ("GET", "/api/v1/positions/near"): Endpoint(
        "history",
        lambda s, x: P(
            "/api/v1/positions/near",
            params={
                "lon": ST_ALBANS[0],
                "lat": ST_ALBANS[1],
                "radius_m": 100,
                **_range(),
                **PURPOSE,
            },
        ),
        missing="list",
        listed=_features,
    ),
    # alerts
    ("GET", "/api/v1/alerts"): Endpoint(
        "read",
        lambda s, x: P("/api/v1/alerts", params={"limit": 500}),
        missing="list",
        listed=lambda b: {a["subject_id"] for a in b["items"]},
    ),
    ("GET", "/api/v1/alerts/{alert_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/alerts/{_alert(s, x)}")
    ),
    ("GET", "/api/v1/alerts/{alert_id}/commands"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/alerts/{_alert(s, x)}/commands")
    ),
    ("POST", "/api/v1/alerts/{alert_id}/actions"): Endpoint(
        "alerts",
        lambda s, x: P(
            f"/api/v1/alerts/{_alert(s, x)}/actions", json={"action": "note", "note": "phoned"}
        ),
    ),
    # the audit log (auditors, administrator admins) and legal holds (evidence requests)
    ("GET", "/api/v1/audit"): Endpoint("audit", lambda s, x: P("/api/v1/audit")),
    ("GET", "/api/v1/audit/export"): Endpoint(
        "audit", lambda s, x: P("/api/v1/audit/export", params={"format": "csv", "action": "zone."})
    ),
    ("GET", "/api/v1/audit/verify"): Endpoint("audit", lambda s, x: P("/api/v1/audit/verify")),
    ("GET", "/api/v1/holds"): Endpoint(
        "read",
        lambda s, x: (_hold(s, x), P("/api/v1/holds"))[1],
        missing="list",
        listed=_ids_of(),
    ),
    ("POST", "/api/v1/holds"): Endpoint(
        "history",
        lambda s, x: P(
            "/api/v1/holds",
            json={"subject_id": x, "start": (T0 - timedelta(days=2)).isoformat(), **PURPOSE},
        ),
        ok=201,
        missing=422,
    ),
    ("GET", "/api/v1/holds/{hold_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/holds/{_hold(s, x)}")
    ),
    ("POST", "/api/v1/holds/{hold_id}/release"): Endpoint(
        "manage", lambda s, x: P(f"/api/v1/holds/{_hold(s, x)}/release")
    ),
    # sharing grants
    ("GET", "/api/v1/grants"): Endpoint(
        "read",
        lambda s, x: (_new_grant(s, x), P("/api/v1/grants"))[1],
        missing="list",
        listed=_ids_of(),
    ),
    ("POST", "/api/v1/grants"): Endpoint(
        "share",
        lambda s, x: P(
            "/api/v1/grants",
            json={
                "subject_id": x,
                "grantee_organisation_id": CENTRE if _org_of(x) != CENTRE else KENT,
                "valid_until": (T0 + timedelta(days=7)).isoformat(),
            },
        ),
        ok=201,
    ),
    ("GET", "/api/v1/grants/{grant_id}"): Endpoint(
        "read", lambda s, x: P(f"/api/v1/grants/{_new_grant(s, x)}")
    ),
    ("DELETE", "/api/v1/grants/{grant_id}"): Endpoint(
        "share", lambda s, x: P(f"/api/v1/grants/{_new_grant(s, x)}"), ok=204
    ),
}


def _case(subject_id: str) -> str:
    return subject_id.removeprefix("s-")


def _org_of(subject_id: str) -> str:
    return MANAGER[_case(subject_id)]


def _unfitted(stack: Stack) -> str:
    device_id = fresh("d")
    stack.services.store.devices.save_device(Device(device_id))
    return device_id


def _hold(stack: Stack, subject_id: str) -> str:
    """An evidence hold on the subject placed by somebody else (releasing it is managing)."""
    draft = LegalHoldDraft(
        subject_id, T0 - timedelta(days=1), None, HoldReason.EVIDENCE_REQUEST, "case", "x"
    )
    return stack.services.store.holds.create_hold(draft, now=T0).id


def _new_grant(stack: Stack, subject_id: str) -> str:
    """A grant of the subject to the monitoring centre (not to herts: the case stays)."""
    grant_id = fresh("g")
    stack.services.store.grants.create_grant(
        SharingGrant(
            grant_id,
            subject_id,
            CENTRE,
            "x",
            T0 - timedelta(days=1),
            T0 + timedelta(days=1),
            "",
            T0,
        )
    )
    return grant_id


# Endpoints of other parts that do not yet keep the table: each is expected to FAIL its
# matrix check (strict xfail), so fixing one makes this list shrink on purpose.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


# -- the tests ---------------------------------------------------------------------------


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path) of the API, walking included routers (FastAPI >= 0.16x keeps
    them as nested routers), without the dashboard's static files."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts: list[Any]
        if isinstance(route, APIRoute):
            contexts = [route]
        elif hasattr(route, "effective_route_contexts"):
            contexts = list(route.effective_route_contexts())
        else:
            continue
        for context in contexts:
            if context.path.startswith("/api/") or context.path == "/metrics":
                found |= {(method, context.path) for method in context.methods if method != "HEAD"}
    return found


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, dict[Who, dict[str, str]]]]:
    stacks = make_stack(Path(tmp_path_factory.mktemp("matrix")))
    stack = next(stacks)
    try:
        yield stack, build_world(stack)
    finally:
        stacks.close()


def test_every_endpoint_is_in_the_matrix(world: tuple[Stack, Any]) -> None:
    stack, _ = world
    operations = api_operations(stack.api.app)  # type: ignore[arg-type]
    assert len(operations) > 50
    missing = operations - set(ENDPOINTS)
    assert not missing, f"endpoints without an authorisation-matrix entry: {sorted(missing)}"
    gone = set(ENDPOINTS) - operations
    assert not gone, f"matrix entries for endpoints that no longer exist: {sorted(gone)}"


def expected(endpoint: Endpoint, who: Who, case: str) -> int:
    if endpoint.action in ("read", "live", "history", "alerts", "manage", "share"):
        never = not MAY[who.role][endpoint.action]
        if endpoint.missing == "list":
            return 403 if never else endpoint.ok
        if relation(who, case) == "-":
            return int(endpoint.missing)
        if never:
            return 403
        return endpoint.ok if may(who, endpoint.action, case) else 403
    return endpoint.ok if may_org(who, endpoint.action) else 403


def expected_listed(endpoint: Endpoint, who: Who, case: str, path: str) -> bool:
    if path == "/api/v1/grants" and not who.national and case in ("shared", "expired"):
        return who.role is not R.AUDITOR  # a grant to one's own organisation is seen
    return may(who, endpoint.action, case)


def _gap(key: tuple[str, str], who: Who, case: str) -> list[pytest.MarkDecorator]:
    """Strict xfail where a known gap lets through what the table refuses."""
    endpoint = ENDPOINTS[key]
    if key not in KNOWN_GAPS or not isinstance(endpoint, Endpoint):
        return []
    if expected(endpoint, who, case) == endpoint.ok:
        return []
    return [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[key])]


MATRIX = [
    pytest.param(
        key, who, case, id=f"{key[0]} {key[1]} {who.name} {case}", marks=_gap(key, who, case)
    )
    for key, endpoint in ENDPOINTS.items()
    if isinstance(endpoint, Endpoint)
    for who in PRINCIPALS
    for case in (
        CASES
        if endpoint.action
        not in ("users", "devices", "organisations", "create_subject", "signed_in", "audit")
        else ("own",)
    )
]


@pytest.mark.parametrize(("key", "who", "case"), MATRIX)
def test_authorisation_matrix(
    world: tuple[Stack, dict[Who, dict[str, str]]], key: tuple[str, str], who: Who, case: str
) -> None:
    stack, headers = world
    endpoint = ENDPOINTS[key]
    assert isinstance(endpoint, Endpoint)
    request = endpoint.prepare(stack, SUBJECT[case])
    answer = stack.api.request(
        key[0], request.path, params=request.params, json=request.json, headers=headers[who]
    )
    want = expected(endpoint, who, case)
    assert answer.status_code == want, (who.name, case, answer.text)
    if endpoint.listed is not None and answer.status_code == 200:
        shown = SUBJECT[case] in endpoint.listed(answer.json())
        assert shown == expected_listed(endpoint, who, case, key[1]), (who.name, case)
