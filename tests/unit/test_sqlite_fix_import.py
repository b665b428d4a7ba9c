"""The SQLite store's bulk import of fixes as columns (history, the ingest benchmark's fill)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import Fix
from tagwatch.store import SecretHasher, SqliteStore
from tagwatch.store.sqlite.columns import to_ms
from tagwatch.store.sqlite.fix_layout import FixColumns, cells_of
from tagwatch.store.sqlite.grid import cell_of

END = datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC)  # the rows straddle a month's end


def columns(times: list[datetime], devices: list[int]) -> FixColumns:
    size = len(times)
    return FixColumns(
        device=np.array(devices, dtype=np.int64),
        fix_time_ms=np.array([to_ms(t) for t in times], dtype=np.int64),
        lat=np.linspace(51.70, 51.80, size),
        lon=np.linspace(-0.40, -0.30, size),
        accuracy_m=np.full(size, 8.0),
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest())
    opened.open()
    return opened


def test_imported_fixes_read_back_as_fixes_in_their_months(store: SqliteStore) -> None:
    times = [END - timedelta(minutes=2) + timedelta(seconds=30 * i) for i in range(6)]
    imported = columns(times, [0, 1, 0, 1, 0, 1])
    assert store.fixes.import_fix_columns(["tag-a", "tag-b"], imported) == 6
    trail = store.fixes.trail(start=times[0], end=times[-1], device_ids=["tag-a"])
    assert trail == [
        Fix("tag-a", times[i], float(imported.lat[i]), float(imported.lon[i]), 8.0)
        for i in (0, 2, 4)
    ]
    assert store.fixes.count_fixes() == 6
    assert store.fixes.count_fixes(end=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)) == 3
    latest = store.fixes.latest_fixes(valid_only=True)
    assert {d: f.fix_time for d, f in latest.items()} == {"tag-a": times[4], "tag-b": times[5]}
    hits = store.fixes.fixes_near(
        float(imported.lon[0]), float(imported.lat[0]), 50.0, END - timedelta(hours=1), END
    )
    assert [hit.fix.device_id for hit in hits] == ["tag-a"]


def test_an_import_drops_what_is_already_stored_and_keeps_latest_fixes_right(
    store: SqliteStore,
) -> None:
    later = END + timedelta(hours=1)
    store.fixes.add_fixes([Fix("tag-a", later, 51.7, -0.3, 5.0)])
    times = [END, END + timedelta(seconds=30), later]
    assert store.fixes.import_fix_columns(["tag-a"], columns(times, [0, 0, 0])) == 2
    assert store.fixes.count_fixes() == 3
    assert store.fixes.latest_fixes()["tag-a"].fix_time == later  # not moved back


def test_columns_of_different_lengths_or_impossible_positions_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        FixColumns(
            np.zeros(2, dtype=np.int64),
            np.zeros(3, dtype=np.int64),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
        )
    with pytest.raises(ValueError, match="out of range"):
        FixColumns(
            np.zeros(1, dtype=np.int64),
            np.zeros(1, dtype=np.int64),
            np.array([91.0]),
            np.zeros(1),
            np.zeros(1),
        )


@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=50))
def test_array_cells_are_the_grids_cells(points: list[tuple[float, float]]) -> None:
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    assert cells_of(lat, lon).tolist() == [cell_of(a, o) for a, o in points]
