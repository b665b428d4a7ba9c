"""Fixtures shared by every test folder. This folder is on the import path (pytest puts a
root conftest's folder there), so `natskit` and `servicekit` import from any test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servicekit import BACKENDS, Backend, backend


@pytest.fixture(params=BACKENDS)
def service_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """Each backend a real server runs on: embedded, postgres, distributed (servicekit)."""
    with backend(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def module_service_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """The same, one per test module and backend (for a server that serves a whole module)."""
    with backend(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running
