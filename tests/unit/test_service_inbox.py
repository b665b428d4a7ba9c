"""The SQLite inbox: durable appends, idempotent by key, pending in order, marks that
commit with the store's transaction."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagwatch.domain.positions import Fix
from tagwatch.log import LogError, NewRecord, SqliteInbox, fix_record
from tagwatch.store import SecretHasher, SqliteStore

T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def record(n: int, device: str = "tag-1", received_at: datetime = T) -> NewRecord:
    fix = Fix(device, T + timedelta(seconds=n), 51.75, -0.33, 10.0)
    return fix_record(fix, received_at=received_at)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[SqliteInbox]:
    with SqliteInbox(tmp_path / "inbox.db") as opened:
        yield opened


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest()) as opened:
        yield opened


def test_append_counts_only_new_keys(inbox: SqliteInbox) -> None:
    assert inbox.append([record(1), record(2), record(1)]) == 2
    assert inbox.append([record(2), record(3)]) == 1
    assert inbox.append([]) == 0
    assert [r.key for r in inbox.pending(10)] == [record(n).key for n in (1, 2, 3)]
    assert inbox.count_pending() == 3


def test_pending_is_in_append_order_and_limited(inbox: SqliteInbox) -> None:
    inbox.append([record(5), record(1)])
    inbox.append([record(3)])
    first_two = inbox.pending(2)
    assert [r.key for r in first_two] == [record(5).key, record(1).key]
    assert first_two[0].seq < first_two[1].seq
    assert inbox.pending(0) == []


def test_a_pending_record_carries_what_was_appended(inbox: SqliteInbox) -> None:
    appended = record(7, received_at=T + timedelta(seconds=9))
    inbox.append([appended])
    [got] = inbox.pending(1)
    assert (got.key, got.kind, got.device_id, got.payload, got.received_at) == (
        appended.key,
        appended.kind,
        appended.device_id,
        appended.payload,
        appended.received_at,
    )


def test_done_records_are_no_longer_pending_and_marks_are_idempotent(inbox: SqliteInbox) -> None:
    inbox.append([record(n) for n in range(6)])
    seqs = [r.seq for r in inbox.pending(10)]
    inbox.mark_done([seqs[0], seqs[1], seqs[4]])
    inbox.mark_done([seqs[0], 10_000])
    assert [r.seq for r in inbox.pending(10)] == [seqs[2], seqs[3], seqs[5]]
    assert inbox.count_pending() == 3
    assert inbox.append([record(0)]) == 0  # a done record's key still dedupes


def test_prune_forgets_old_done_records_only(inbox: SqliteInbox) -> None:
    inbox.append([record(1, received_at=T), record(2, received_at=T)])
    inbox.append([record(3, received_at=T + timedelta(hours=1))])
    old = inbox.pending(10)
    inbox.mark_done([old[0].seq, old[2].seq])
    assert inbox.prune(T + timedelta(minutes=30)) == 1  # done and old: record 1
    assert [r.key for r in inbox.pending(10)] == [record(2).key]  # pending is never pruned
    assert inbox.append([record(1)]) == 1  # its key is forgotten: it comes in again
    [again] = [r for r in inbox.pending(10) if r.key == record(1).key]
    assert again.seq > max(r.seq for r in old)  # seqs are never reused


def test_an_append_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    script = (
        "import os, sys\n"
        "from datetime import UTC, datetime\n"
        "from tagwatch.domain.positions import Fix\n"
        "from tagwatch.log import SqliteInbox, fix_record\n"
        "inbox = SqliteInbox(sys.argv[1]); inbox.open()\n"
        "t = datetime(2026, 11, 2, 12, tzinfo=UTC)\n"
        "inbox.append([fix_record(Fix('tag-1', t, 51.7, -0.3, 5.0), received_at=t)])\n"
        "os._exit(0)  # no close, no checkpoint: only what append made durable\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    with SqliteInbox(path) as reopened:
        assert reopened.count_pending() == 1


def test_the_writer_uses_wal_and_full_sync(inbox: SqliteInbox) -> None:
    writer = inbox._open_writer()  # the setting is per connection
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_concurrent_appends_all_land_with_distinct_seqs(inbox: SqliteInbox) -> None:
    def send(device: str) -> None:
        for n in range(25):
            inbox.append([record(n, device)])

    threads = [threading.Thread(target=send, args=(f"tag-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pending = inbox.pending(1000)
    assert len(pending) == 200
    assert len({r.seq for r in pending}) == 200
    for device in (f"tag-{i}" for i in range(8)):  # one device's records stay in order
        keys = [r.key for r in pending if r.device_id == device]
        assert keys == [record(n, device).key for n in range(25)]


def test_marks_in_the_stores_file_commit_and_roll_back_with_its_transaction(
    store: SqliteStore,
) -> None:
    with SqliteInbox.in_store_file(store) as inbox:
        assert inbox.joins_store_transaction
        inbox.append([record(1), record(2)])
        seqs = [r.seq for r in inbox.pending(10)]
        with pytest.raises(RuntimeError), store.transaction():
            inbox.mark_done(seqs)
            raise RuntimeError("the batch failed")
        assert inbox.count_pending() == 2
        with store.transaction():
            inbox.mark_done(seqs[:1])
            assert inbox.count_pending() == 2  # not committed yet
        assert inbox.count_pending() == 1


def test_append_inside_the_stores_transaction_is_refused(store: SqliteStore) -> None:
    with (
        SqliteInbox.in_store_file(store) as inbox,
        store.transaction(),
        pytest.raises(LogError, match="would wait"),
    ):
        inbox.append([record(1)])


def test_a_shared_inbox_must_be_in_the_stores_file(store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not in the store's file"):
        SqliteInbox(tmp_path / "elsewhere.db", store=store)


def test_an_unreadable_payload_comes_back_empty_for_the_monitor_to_refuse(
    inbox: SqliteInbox,
) -> None:
    inbox.append([record(1)])
    with sqlite3.connect(inbox.path) as conn:
        conn.execute("UPDATE inbox SET payload = '{broken'")
    [got] = inbox.pending(1)
    assert got.payload == {}


def test_a_closed_inbox_says_so(tmp_path: Path) -> None:
    inbox = SqliteInbox(tmp_path / "inbox.db")
    with pytest.raises(LogError, match="not open"):
        inbox.append([record(1)])
