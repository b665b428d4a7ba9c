"""The SQLite inbox commits concurrent appends together, and each still answers for itself."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.positions import Fix
from tagwatch.log import LogError, SqliteInbox, fix_record
from tagwatch.log.contract import NewRecord
from tagwatch.store import SecretHasher, SqliteStore

T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
THREADS, APPENDS, RECORDS = 6, 20, 10


def records(device: str, first: int, count: int) -> list[NewRecord]:
    return [
        fix_record(Fix(device, T + timedelta(seconds=n), 51.7, -0.3, 5.0), received_at=T)
        for n in range(first, first + count)
    ]


@pytest.fixture(params=["store-file", "own-file"])
def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteInbox]:
    store = SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest())
    store.open()
    if request.param == "store-file":
        opened = SqliteInbox.in_store_file(store)
    else:
        opened = SqliteInbox(tmp_path / "inbox.db")
    opened.open()
    try:
        yield opened
    finally:
        opened.close()
        store.close()


def test_concurrent_appends_all_land_and_each_counts_its_own_new_records(
    inbox: SqliteInbox,
) -> None:
    counts: dict[int, list[int]] = {}
    start = threading.Barrier(THREADS)

    def send(thread: int) -> None:
        start.wait()
        device = f"tag-{thread}"
        # Each append repeats half of the previous one: only the new half counts.
        counts[thread] = [
            inbox.append(records(device, n * RECORDS // 2, RECORDS)) for n in range(APPENDS)
        ]

    threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [RECORDS] + [RECORDS // 2] * (APPENDS - 1)
    assert counts == {t: expected for t in range(THREADS)}
    assert inbox.count_pending() == THREADS * (RECORDS + (APPENDS - 1) * RECORDS // 2)
    seqs = [record.seq for record in inbox.pending(10_000)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_group_whose_commit_fails_is_refused_whole(inbox: SqliteInbox) -> None:
    with sqlite3.connect(inbox.path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox WHEN NEW.device_id = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    good = records("tag-1", 0, 3)
    with pytest.raises(LogError, match="refused"):
        inbox.append([*good, *records("poison", 0, 1)])
    assert inbox.count_pending() == 0  # nothing of a refused append is kept
    assert inbox.append(good) == 3  # and the inbox goes on working
