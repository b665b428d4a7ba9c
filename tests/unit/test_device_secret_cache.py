"""DeviceSecrets' memory of recent successes: what lets an upload skip Argon2 on the event loop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from servicekit import Ticks
from tagwatch.domain.people import Device
from tagwatch.service.auth import DeviceSecrets
from tagwatch.store import SecretHasher, SqliteStore

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest()) as opened:
        opened.devices.save_device(Device("tag-1"))
        opened.devices.set_device_secret("tag-1", "right secret", now=NOW)
        yield opened


def test_only_a_secret_that_passed_a_full_check_is_remembered(store: SqliteStore) -> None:
    ticks = Ticks()
    secrets = DeviceSecrets(store.devices, cache_ttl_s=60, monotonic=ticks)
    assert not secrets.recently_checked("tag-1", "right secret")  # never checked yet
    assert not secrets.check("tag-1", "wrong secret")
    assert not secrets.recently_checked("tag-1", "wrong secret")  # failures are not kept
    assert secrets.check("tag-1", "right secret")
    assert secrets.recently_checked("tag-1", "right secret")
    assert not secrets.recently_checked("tag-2", "right secret")  # per device
    assert not secrets.recently_checked("tag-1", "")


def test_the_memory_ends_with_its_lifetime_and_with_forget(store: SqliteStore) -> None:
    ticks = Ticks()
    secrets = DeviceSecrets(store.devices, cache_ttl_s=60, monotonic=ticks)
    assert secrets.check("tag-1", "right secret")
    ticks.now += 59.9
    assert secrets.recently_checked("tag-1", "right secret")
    ticks.now += 0.2
    assert not secrets.recently_checked("tag-1", "right secret")
    assert secrets.check("tag-1", "right secret")  # a full check again, remembered again
    secrets.forget("tag-1")
    assert not secrets.recently_checked("tag-1", "right secret")


def test_a_changed_secret_is_checked_in_full_after_forget(store: SqliteStore) -> None:
    secrets = DeviceSecrets(store.devices, cache_ttl_s=60, monotonic=Ticks())
    assert secrets.check("tag-1", "right secret")
    store.devices.set_device_secret("tag-1", "new secret", now=NOW)
    secrets.forget("tag-1")  # what the admin service does when it sets a secret
    assert not secrets.check("tag-1", "right secret")
    assert secrets.check("tag-1", "new secret")
