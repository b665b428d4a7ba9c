"""The API on a real SQLite store in a temporary directory, with a clock held still.

`api` is a TestClient of the API app, `osmand` one of the OsmAnd app, both on one
`ApiContext`; `headers(role)` signs in a user of that role. The stack and data helpers live
in `apikit.py` (imported by the test modules as `from apikit import ...`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apikit import Stack, make_stack, sign_in
from fastapi.testclient import TestClient

from tagwatch.store.records import UserRole


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    yield from make_stack(tmp_path)


@pytest.fixture
def api(stack: Stack) -> TestClient:
    return stack.api


@pytest.fixture
def osmand(stack: Stack) -> TestClient:
    return stack.osmand


@pytest.fixture
def headers(stack: Stack) -> Callable[[UserRole], dict[str, str]]:
    """Authorization headers of a fresh user of the given role."""

    def sign_in_as(role: UserRole) -> dict[str, str]:
        return sign_in(stack.api, stack.services, role)

    return sign_in_as


@pytest.fixture
def admin(headers: Callable[[UserRole], dict[str, str]]) -> dict[str, str]:
    return headers(UserRole.ADMIN)


@pytest.fixture
def operator(headers: Callable[[UserRole], dict[str, str]]) -> dict[str, str]:
    return headers(UserRole.OPERATOR)


@pytest.fixture
def viewer(headers: Callable[[UserRole], dict[str, str]]) -> dict[str, str]:
    return headers(UserRole.VIEWER)
