"""The SQLite store's row builder for add_fixes: a fix it cannot write fails the batch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagwatch.domain.positions import Fix
from tagwatch.store import SecretHasher, SqliteStore

T = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_a_fix_received_at_a_naive_instant_fails_its_whole_batch(tmp_path: Path) -> None:
    good = Fix("tag-1", T, 51.7, -0.3, 10.0, received_at=T)
    naive = Fix("tag-1", T.replace(minute=1), 51.7, -0.3, 10.0, received_at=datetime(2026, 11, 29))  # noqa: DTZ001
    with SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest()) as store:
        with pytest.raises(ValueError, match="cannot write"):
            store.fixes.add_fixes([good, naive])
        assert store.fixes.count_fixes() == 0  # the transaction rolled back
        assert store.fixes.add_fixes([good]) == 1


def test_non_finite_numbers_are_stored_as_missing(tmp_path: Path) -> None:
    invalid = Fix("tag-1", T, float("nan"), float("nan"), float("inf"), valid=False)
    with SqliteStore(tmp_path / "t.db", hasher=SecretHasher.cheapest()) as store:
        assert store.fixes.add_fixes([invalid]) == 1
        [back] = store.fixes.trail(start=T, end=T, device_ids=["tag-1"])
        assert not back.valid and back.fix_time == T
        assert store.fixes.latest_fixes()["tag-1"].fix_time == T
