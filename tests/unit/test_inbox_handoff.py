"""The inbox's handoff: records this process appended reach `pending` without being read
back, and whatever the handoff lacks is read from the table, in seq order, unchanged."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tagwatch.domain.positions import DeviceEvent, DeviceEventKind, Fix
from tagwatch.log import NewRecord, SqliteInbox, event_record, fix_record
from tagwatch.log.handoff import Handoff
from tagwatch.store import SecretHasher, SqliteStore

T = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def record(n: int, device: str = "tag-1", received_at: datetime = T) -> NewRecord:
    fix = Fix(device, T + timedelta(seconds=n), 51.75, -0.33, 10.0)
    return fix_record(fix, received_at=received_at)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[SqliteInbox]:
    with SqliteInbox(tmp_path / "inbox.db") as opened:
        opened.keep_appended()
        yield opened


@pytest.fixture
def other(inbox: SqliteInbox) -> Iterator[SqliteInbox]:
    """Another writer of the same file, as `tagwatch import` in another process is."""
    with SqliteInbox(inbox.path) as opened:
        yield opened


def handoff_of(inbox: SqliteInbox) -> Handoff:
    assert inbox.handoff is not None
    return inbox.handoff


def test_records_appended_here_are_handed_over_not_read_back(
    inbox: SqliteInbox, other: SqliteInbox
) -> None:
    inbox.append([record(n) for n in range(5)])
    got = inbox.pending(10)
    assert (handoff_of(inbox).handed_over, handoff_of(inbox).read_back) == (5, 0)
    assert got == other.pending(10)  # exactly what reading the table gives


def test_what_is_handed_over_equals_the_rows_for_events_and_other_time_zones(
    inbox: SqliteInbox, other: SqliteInbox
) -> None:
    plus_one = T.astimezone(timezone(timedelta(hours=1)))
    event = DeviceEvent("tag-1", T, DeviceEventKind.BATTERY_LEVEL, 40.0, received_at=T)
    inbox.append([record(1, received_at=plus_one), event_record(event, received_at=T)])
    handed = inbox.pending(10)
    assert handoff_of(inbox).read_back == 0
    assert handed == other.pending(10)
    assert handed[0].received_at.tzinfo is UTC  # as a read-back row has it


def test_records_another_writer_appended_are_read_back_in_seq_order(
    inbox: SqliteInbox, other: SqliteInbox
) -> None:
    inbox.append([record(1), record(2)])
    other.append([record(3), record(4)])
    inbox.append([record(5)])
    other.append([record(6)])
    got = inbox.pending(10)
    assert [r.key for r in got] == [record(n).key for n in range(1, 7)]
    assert got == other.pending(10)
    assert (handoff_of(inbox).handed_over, handoff_of(inbox).read_back) == (3, 3)


def test_duplicate_keys_do_not_shift_the_seqs_handed_over(
    inbox: SqliteInbox, other: SqliteInbox
) -> None:
    other.append([record(2)])
    assert inbox.append([record(1), record(2), record(1), record(3)]) == 2
    got = inbox.pending(10)
    assert got == other.pending(10)
    assert [r.key for r in got] == [record(n).key for n in (2, 1, 3)]
    assert handoff_of(inbox).read_back == 1  # only the other writer's record


def test_seqs_after_a_prune_of_the_newest_rows_are_still_matched(
    inbox: SqliteInbox, other: SqliteInbox
) -> None:
    inbox.append([record(1), record(2)])
    inbox.mark_done([r.seq for r in inbox.pending(10)])
    inbox.prune(T + timedelta(days=1))  # the table is empty, its seq counter is not
    inbox.append([record(3), record(4)])
    got = inbox.pending(10)
    assert got == other.pending(10)
    assert [r.key for r in got] == [record(3).key, record(4).key]
    assert handoff_of(inbox).read_back == 0


def test_done_records_leave_the_handoff(inbox: SqliteInbox) -> None:
    inbox.append([record(n) for n in range(4)])
    seqs = [r.seq for r in inbox.pending(10)]
    inbox.mark_done(seqs[:3])
    assert len(handoff_of(inbox)) == 1
    assert [r.seq for r in inbox.pending(10)] == seqs[3:]


def test_beyond_its_limit_the_handoff_leaves_records_to_be_read_back(tmp_path: Path) -> None:
    with SqliteInbox(tmp_path / "inbox.db") as inbox, SqliteInbox(inbox.path) as plain:
        inbox.keep_appended(limit=2)
        inbox.append([record(n) for n in range(5)])
        got = inbox.pending(10)
        assert got == plain.pending(10)
        assert (handoff_of(inbox).handed_over, handoff_of(inbox).read_back) == (2, 3)


def test_a_failed_commit_hands_nothing_over(inbox: SqliteInbox) -> None:
    with sqlite3.connect(inbox.path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    with pytest.raises(Exception, match="could not store"):
        inbox.append([record(1)])
    assert len(handoff_of(inbox)) == 0


def test_a_rolled_back_mark_leaves_the_records_pending_read_back(tmp_path: Path) -> None:
    with (
        SqliteStore(tmp_path / "tagwatch.db", hasher=SecretHasher.cheapest()) as store,
        SqliteInbox.in_store_file(store) as inbox,
    ):
        inbox.keep_appended()
        inbox.append([record(1), record(2)])
        first = inbox.pending(10)
        with pytest.raises(RuntimeError), store.transaction():
            inbox.mark_done([r.seq for r in first])
            raise RuntimeError("the batch failed")
        assert inbox.pending(10) == first
        assert handoff_of(inbox).read_back == 2


def test_without_keep_appended_nothing_is_kept(tmp_path: Path) -> None:
    with SqliteInbox(tmp_path / "inbox.db") as inbox:
        inbox.append([record(1)])
        assert inbox.handoff is None
        assert [r.key for r in inbox.pending(10)] == [record(1).key]
