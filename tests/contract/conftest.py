"""The store contract suite: every test runs against every store implementation.

`store` is an open store on a fresh, empty database; `store_factory` makes more
(unopened) stores on the same database, to test reopening. The implementations are
SQLite (a file in the test's temp dir) and PostgreSQL/PostGIS: a throwaway database
`tagwatch_test_<random>` per test, cloned from a template migrated once per session, and
dropped afterwards. The server is TAGWATCH_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth; `make test` starts it). Without
a server the PostgreSQL tests are skipped - except with CI=true, where they fail.

Helpers for building data are imported by the test modules with `from conftest import ...`
(tests/contract is on the import path because it is not a package), as in tests/unit.
"""

from __future__ import annotations

import math
import os
import random
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tagwatch.domain.episodes import Episode, RuleKind, episode_id
from tagwatch.domain.people import Assignment, Device, Subject
from tagwatch.domain.positions import Fix
from tagwatch.store import SecretHasher, SqliteStore, Store, UnitOfWork
from tagwatch.store.records import AlertDraft, AlertSeverity

IMPLEMENTATIONS = ["sqlite", "postgres"]
POSTGRES_SERVER = os.environ.get(
    "TAGWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

StoreFactory = Callable[[], Store]

# A Thursday evening in November, in UTC; Europe/London is on GMT then.
T0 = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)
ST_ALBANS = (-0.336, 51.752)  # lon, lat


def _database_url(name: str) -> str:
    """POSTGRES_SERVER with its database replaced by `name`."""
    return urlunsplit(urlsplit(POSTGRES_SERVER)._replace(path=f"/{name}"))


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=5)


def _drop_database(name: str) -> None:
    with _admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database with the store's schema, cloned for each test (PostGIS takes a while)."""
    from tagwatch.store.postgres.migrate import migrate

    try:
        with _admin() as admin:
            admin.execute("SELECT 1")
    except psycopg.OperationalError as error:
        _unavailable(f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {error}")
    name = f"tagwatch_test_template_{secrets.token_hex(4)}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        try:
            with psycopg.connect(_database_url(name), autocommit=True) as conn:
                migrate(conn)
        except psycopg.errors.FeatureNotSupported as error:  # extension not installed
            _unavailable(f"PostGIS or btree_gist is missing (make services): {error}")
        yield name
    finally:
        _drop_database(name)


def _unavailable(message: str) -> None:
    """Skip the PostgreSQL tests - or fail them in CI, where the services must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh database with the store's schema, dropped after the test."""
    name = f"tagwatch_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(postgres_template)
            )
        )
    try:
        yield _database_url(name)
    finally:
        _drop_database(name)


def _factory(implementation: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    if implementation == "sqlite":
        path = tmp_path / "tagwatch.db"
        return lambda: SqliteStore(path, hasher=SecretHasher.cheapest())
    if implementation == "postgres":
        from tagwatch.store.postgres import PostgresStore

        url = str(request.getfixturevalue("postgres_url"))
        return lambda: PostgresStore(url, hasher=SecretHasher.cheapest(), pool_size=12)
    raise AssertionError(f"no store implementation {implementation!r}")


@pytest.fixture(params=IMPLEMENTATIONS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return _factory(str(request.param), request, tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Iterator[Store]:
    opened = store_factory()
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point `east_m`/`north_m` metres from (lon, lat), on the sphere (small offsets)."""
    radius = 6_371_008.8
    dlat = math.degrees(north_m / radius)
    dlon = math.degrees(east_m / (radius * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def make_fix(
    device_id: str, at: datetime, lon: float = ST_ALBANS[0], lat: float = ST_ALBANS[1], **kw: object
) -> Fix:
    return Fix(device_id=device_id, fix_time=at, lat=lat, lon=lon, accuracy_m=10.0, **kw)  # type: ignore[arg-type]


def seed_subject(
    store: UnitOfWork,
    subject_id: str = "subject-1",
    device_id: str = "tag-1",
    start: datetime = T0 - timedelta(days=30),
    end: datetime | None = None,
) -> None:
    """A subject wearing a tag from `start` (a month before T0 by default)."""
    if store.subjects.get_subject(subject_id) is None:
        store.subjects.save_subject(Subject(subject_id, f"Name of {subject_id}"))
    if store.devices.get_device(device_id) is None:
        store.devices.save_device(Device(device_id))
    store.assignments.save_assignment(Assignment(device_id, subject_id, start, end))


def make_episode(
    device_id: str = "tag-1",
    subject_id: str = "subject-1",
    start: datetime = T0,
    end: datetime | None = None,
    rule: RuleKind = RuleKind.EXCLUSION,
    requirement_id: str = "zone-1",
    depth: float = 12.5,
) -> Episode:
    return Episode(
        id=episode_id(device_id, rule, requirement_id, start),
        device_id=device_id,
        subject_id=subject_id,
        rule=rule,
        requirement_id=requirement_id,
        start=start,
        end=end,
        confirmed_at=start + timedelta(seconds=60),
        deepest_penetration_m=depth,
        confidence=0.97,
        evidence=(start + timedelta(seconds=60), start),
    )


def make_draft(
    episode: Episode,
    *,
    severity: AlertSeverity = AlertSeverity.HIGH,
    detected_at: datetime | None = None,
    late: bool = False,
    ack_deadline: datetime | None = None,
) -> AlertDraft:
    return AlertDraft(
        episode_id=episode.id,
        subject_id=episode.subject_id,
        device_id=episode.device_id,
        rule=episode.rule,
        requirement_id=episode.requirement_id,
        severity=severity,
        occurred_at=episode.start,
        detected_at=detected_at if detected_at is not None else episode.confirmed_at,
        late=late,
        ack_deadline=ack_deadline,
    )


def scatter(
    rng: random.Random, centre: tuple[float, float], spread_m: float
) -> tuple[float, float]:
    """A random point within `spread_m` metres east and north of `centre`."""
    return offset(*centre, rng.uniform(-spread_m, spread_m), rng.uniform(-spread_m, spread_m))
