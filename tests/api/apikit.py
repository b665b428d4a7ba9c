"""Helpers for the API tests: signing in, and records made through the API itself."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tagwatch.api import ApiContext, ApiSettings, create_app, create_osmand_app
from tagwatch.service.bootstrap import Services, bootstrap
from tagwatch.service.clock import FixedClock
from tagwatch.service.config import Config
from tagwatch.store import SecretHasher
from tagwatch.store.records import DEFAULT_ORGANISATION_ID, UserRole

# A Thursday evening in November, in UTC; Europe/London is on GMT then.
T0 = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)
ST_ALBANS = (-0.336, 51.752)  # lon, lat
PASSWORD = "correct horse battery"  # noqa: S105 - a test user's
# The stated purpose a trail, export or proximity search needs (query parameters).
PURPOSE = {"purpose_code": "investigation", "purpose": "burglary 12/345, Hitchin"}
_names = itertools.count(1)


TEST_KEY = b"k" * 32


@dataclass
class Stack:
    services: Services
    context: ApiContext
    clock: FixedClock
    api: TestClient
    osmand: TestClient


def make_stack(tmp_path: Path, **settings: object) -> Iterator[Stack]:
    clock = FixedClock(T0)
    services = bootstrap(
        Config(db_path=tmp_path / "tagwatch.db", run_monitor=False),
        clock=clock,
        hasher=SecretHasher.cheapest(),
    )
    try:
        context = ApiContext.build(
            services,
            ApiSettings(token_key=TEST_KEY, **settings),  # type: ignore[arg-type]
        )
        with (
            TestClient(create_app(services, context=context)) as api,
            TestClient(create_osmand_app(context)) as osmand,
        ):
            yield Stack(services, context, clock, api, osmand)
    finally:
        services.close()


def frames_path() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "conformance" / "frames.json"


def need_frames() -> Path:
    """The conformance frames: missing fails in CI (CI=true) and skips elsewhere."""
    path = frames_path()
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"conformance frames missing: {path}")
        pytest.skip(f"conformance frames missing: {path}")
    return path


def sign_in(
    api: TestClient,
    services: Services,
    role: UserRole,
    organisation_id: str = DEFAULT_ORGANISATION_ID,
) -> dict[str, str]:
    """A new user of `role` in the organisation (default: the administrators, who see
    every subject), signed in: their Authorization header."""
    username = f"{role.value}-{next(_names)}"
    services.store.users.create_user(
        username, PASSWORD, role, now=T0, organisation_id=organisation_id
    )
    answer = api.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point `east_m`/`north_m` metres from (lon, lat), on the sphere (small offsets)."""
    radius = 6_371_008.8
    dlat = math.degrees(north_m / radius)
    dlon = math.degrees(east_m / (radius * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def created(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def add_subject(api: TestClient, admin: dict[str, str], subject_id: str = "subject-1") -> None:
    created(
        api.post("/api/v1/subjects", json={"id": subject_id, "name": "Sam Example"}, headers=admin)
    )


def add_tagged_subject(
    api: TestClient,
    admin: dict[str, str],
    subject_id: str = "subject-1",
    device_id: str = "tag-1",
    start: datetime = T0 - timedelta(days=30),
) -> None:
    """A subject wearing a tag since `start`."""
    add_subject(api, admin, subject_id)
    created(api.post("/api/v1/devices", json={"id": device_id}, headers=admin))
    created(
        api.post(
            "/api/v1/assignments",
            json={"device_id": device_id, "subject_id": subject_id, "start": start.isoformat()},
            headers=admin,
        )
    )


def circle_zone(
    subject_id: str = "subject-1",
    zone_id: str = "zone-1",
    radius_m: float = 200.0,
    centre: tuple[float, float] = ST_ALBANS,
    kind: str = "exclusion",
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": zone_id,
        "geometry": {"type": "Point", "coordinates": list(centre), "radius_m": radius_m},
        "properties": {"subject_id": subject_id, "kind": kind, "name": "victim's home"},
    }


def seed_alert(
    stack: Stack,
    api: TestClient | None = None,
    admin: dict[str, str] | None = None,
    *,
    subject_id: str = "subject-1",
    device_id: str = "tag-1",
    minutes: int = 0,
) -> str:
    """An open exclusion episode and its new alert for the subject, written straight into
    the store (as the monitor would); with `api`/`admin`, the tagged subject is made first."""
    from tagwatch.domain.episodes import Episode, RuleKind, episode_id
    from tagwatch.store.records import AlertDraft, AlertSeverity

    if api is not None and admin is not None:
        add_tagged_subject(api, admin, subject_id, device_id)
    start = T0 - timedelta(hours=1) + timedelta(minutes=minutes)
    episode = Episode(
        id=episode_id(device_id, RuleKind.EXCLUSION, "zone-1", start),
        device_id=device_id,
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
    with stack.services.store.transaction() as tx:
        tx.episodes.upsert_episodes([episode])
        draft = AlertDraft(
            episode.id,
            subject_id,
            device_id,
            episode.rule,
            "zone-1",
            AlertSeverity.HIGH,
            start,
            start,
            False,
        )
        return tx.alerts.upsert_alert_for_episode(draft, now=start).alert.id
