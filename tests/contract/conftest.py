"""The store contract suite: every test runs against every store implementation.

`store` is an open store on a fresh, empty database; `store_factory` makes more
(unopened) stores on the same database, to test reopening. The implementations are
SQLite (a file in the test's temp dir) and PostgreSQL/PostGIS: a throwaway database
`tagwatch_test_<random>` per test, cloned from a template migrated once per session, and
dropped afterwards. The server is TAGWATCH_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth; `make test` starts it). Without
a server the PostgreSQL tests are skipped - except with CI=true, where they fail.

Helpers for building data live in `contractkit` (tests/contract is on the import path
because it is not a package); a module named `conftest` is ambiguous across test folders.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from contractkit import POSTGRES_SERVER, StoreFactory
from psycopg import sql

from tagwatch.store import SecretHasher, SqliteStore, Store

IMPLEMENTATIONS = ["sqlite", "postgres"]


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
