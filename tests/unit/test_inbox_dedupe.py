"""The SQLite inbox dedupes by key in memory, within its window, across restarts, and
inboxes made with the old UNIQUE key are rebuilt without losing a row or reusing a seq."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tagwatch.domain.positions import Fix
from tagwatch.log import NewRecord, SqliteInbox, fix_record
from tagwatch.log.recent_keys import RecentKeys

T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
WINDOW_US = 600_000_000

# (key, step in received time); steps are mostly forward, sometimes back (a late request)
ADDS = st.lists(
    st.tuples(
        st.sampled_from([f"k{n}" for n in range(12)]),
        st.integers(min_value=-30_000_000, max_value=400_000_000),
    ),
    max_size=80,
)


@given(ADDS)
def test_every_key_added_within_the_window_of_the_newest_is_remembered(
    adds: list[tuple[str, int]],
) -> None:
    recent = RecentKeys(WINDOW_US)
    newest_of: dict[str, int] = {}
    now = 10**15
    for key, step in adds:
        now += step
        recent.add(key, now)
        newest_of[key] = max(newest_of.get(key, now), now)
        newest = max(newest_of.values())
        for known, received in newest_of.items():
            if newest - received < WINDOW_US:
                assert known in recent, (known, newest - received)


@given(ADDS.map(lambda adds: [(key, abs(step)) for key, step in adds]))
def test_with_time_moving_forward_nothing_is_kept_a_slice_beyond_the_window(
    adds: list[tuple[str, int]],
) -> None:
    recent = RecentKeys(WINDOW_US, slices=10)
    slice_us = WINDOW_US // 10
    newest_of: dict[str, int] = {}
    now = 10**15
    for key, step in adds:
        now += step
        recent.add(key, now)
        newest_of[key] = now
    for key, received in newest_of.items():
        if now - received >= WINDOW_US + slice_us:
            assert key not in recent
    assert len(recent) == sum(1 for key in newest_of if key in recent)


def test_forget_spares_a_key_seen_again_later() -> None:
    recent = RecentKeys(WINDOW_US)
    recent.add("a", 1_000)
    recent.add("b", 1_000)
    recent.add("a", 900_000_000)  # "a" again, much later: a newer sighting
    recent.forget("a", 1_000)  # the old row of "a" was pruned
    recent.forget("b", 1_000)
    assert "a" in recent
    assert "b" not in recent


def record(n: int, received_at: datetime = T) -> NewRecord:
    return fix_record(
        Fix("tag-1", T + timedelta(seconds=n), 51.75, -0.33, 10.0), received_at=received_at
    )


def test_a_restarted_inbox_still_drops_a_retry_of_what_it_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    with SqliteInbox(path) as inbox:
        assert inbox.append([record(1), record(2)]) == 2
        inbox.mark_done([r.seq for r in inbox.pending(1)])  # done or pending: both dedupe
    with SqliteInbox(path) as restarted:
        assert restarted.append([record(1), record(2), record(3)]) == 1
        assert [r.key for r in restarted.pending(10)] == [record(2).key, record(3).key]


def test_a_key_older_than_the_window_is_appended_again(tmp_path: Path) -> None:
    later = T + timedelta(minutes=11)
    with SqliteInbox(tmp_path / "inbox.db", dedupe_window=timedelta(minutes=10)) as inbox:
        assert inbox.append([record(1)]) == 1
        assert inbox.append([record(2, received_at=later)]) == 1
        assert inbox.append([record(1, received_at=later)]) == 1  # beyond the window: again
        assert inbox.append([record(2, received_at=later)]) == 0  # within it: dropped
        keys = [r.key for r in inbox.pending(10)]
    assert keys == [record(1).key, record(2).key, record(1).key]  # downstream is idempotent


OLD_SCHEMA = """
    CREATE TABLE inbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('fix', 'event')),
        device_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at_us INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0
    )
"""


def test_an_inbox_made_with_a_unique_key_is_rebuilt_keeping_rows_and_seqs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with SqliteInbox(path) as current:  # rows as this version writes them
        current.append([record(n) for n in range(5)])
        rows = current._open_writer().execute("SELECT * FROM inbox ORDER BY seq").fetchall()
    path.unlink()
    with sqlite3.connect(path) as old:
        old.execute(OLD_SCHEMA)
        old.executemany("INSERT INTO inbox VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        old.execute("UPDATE inbox SET done = 1 WHERE seq <= 2")
        old.execute("UPDATE sqlite_sequence SET seq = 40 WHERE name = 'inbox'")  # pruned tail
    old.close()

    with SqliteInbox(path) as inbox:
        writer = inbox._open_writer()
        origins = [row[3] for row in writer.execute("PRAGMA index_list('inbox')")]
        assert "u" not in origins  # no UNIQUE key index left
        assert {"inbox_pending", "inbox_done"} <= {
            row[1] for row in writer.execute("PRAGMA index_list('inbox')")
        }
        assert [r.seq for r in inbox.pending(10)] == [3, 4, 5]
        assert inbox.append([record(4), record(5)]) == 1  # old keys still dedupe
        assert inbox.pending(10)[-1].seq == 41  # the seq after the old high-water mark
    with SqliteInbox(path) as reopened:  # rebuilt once; opening again changes nothing
        assert [r.seq for r in reopened.pending(10)] == [3, 4, 5, 41]
